// The signals a daemon stops and reloads on, taken by one thread of its own
// with sigwait (so no handler runs inside gRPC's or the HTTP server's
// threads). Construct it first in main(), before any thread starts: every
// thread then inherits the blocked mask.
//
// Thread-safe: Start and Join from the main thread.
#pragma once

#include <signal.h>

#include <functional>
#include <thread>

namespace galvatron {

class SignalWatch {
 public:
  // Blocks SIGINT and SIGTERM, and SIGHUP when `reload` is set, in the
  // calling thread.
  explicit SignalWatch(bool reload);
  ~SignalWatch();  // joins the thread (call Stop first if no signal came)
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;

  // Starts the thread: every SIGHUP calls on_reload; the first SIGINT or
  // SIGTERM calls on_stop with "SIGINT" or "SIGTERM" and ends the thread.
  void Start(std::function<void()> on_reload, std::function<void(const char*)> on_stop);
  // Ends the thread as a SIGTERM would (e.g. after the daemon failed), then
  // joins it.
  void Stop();
  void Join();

 private:
  sigset_t signals_;
  std::thread thread_;
};

}  // namespace galvatron
