#include "common/signal_watch.h"

#include <pthread.h>
#include <unistd.h>

#include <utility>

namespace galvatron {

SignalWatch::SignalWatch(bool reload) {
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGINT);
  sigaddset(&signals_, SIGTERM);
  if (reload) sigaddset(&signals_, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
}

SignalWatch::~SignalWatch() { Join(); }

void SignalWatch::Start(std::function<void()> on_reload, std::function<void(const char*)> on_stop) {
  thread_ = std::thread([this, on_reload = std::move(on_reload), on_stop = std::move(on_stop)] {
    while (true) {
      int signal_number = 0;
      if (sigwait(&signals_, &signal_number) != 0) continue;
      if (signal_number == SIGHUP) {
        if (on_reload) on_reload();
        continue;
      }
      if (on_stop) on_stop(signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
      return;
    }
  });
}

void SignalWatch::Stop() {
  if (thread_.joinable()) kill(getpid(), SIGTERM);
  Join();
}

void SignalWatch::Join() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace galvatron
