#include "agent/runtime/comm/wait_clock.h"

#include <atomic>
#include <chrono>

namespace galvatron::runtime {
namespace {

struct Counter {
  std::atomic<int64_t> waits{0};
  std::atomic<int64_t> nanoseconds{0};
};

Counter& CounterFor(WaitKind kind) {
  static Counter model, sync, other;
  switch (kind) {
    case WaitKind::kModel:
      return model;
    case WaitKind::kGradientSync:
      return sync;
    case WaitKind::kOther:
      break;
  }
  return other;
}

thread_local const WaitKind* scope_kind = nullptr;

class Timed {
 public:
  explicit Timed(WaitKind kind) : counter_(CounterFor(kind)) {}
  ~Timed() {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::steady_clock::now() - start_)
                        .count();
    counter_.nanoseconds.fetch_add(ns, std::memory_order_relaxed);
    counter_.waits.fetch_add(1, std::memory_order_relaxed);
  }
  Timed(const Timed&) = delete;
  Timed& operator=(const Timed&) = delete;

 private:
  Counter& counter_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace

void WaitFor(const c10::intrusive_ptr<c10d::Work>& work, WaitKind kind) {
  Timed timed(scope_kind != nullptr ? *scope_kind : kind);
  work->wait();
}

WaitKindScope::WaitKindScope(WaitKind kind) : previous_(scope_kind), kind_(kind) {
  scope_kind = &kind_;
}

WaitKindScope::~WaitKindScope() { scope_kind = previous_; }

WaitTotals ReadWaitTotals() {
  WaitTotals t;
  const Counter& model = CounterFor(WaitKind::kModel);
  const Counter& sync = CounterFor(WaitKind::kGradientSync);
  t.model_waits = model.waits.load(std::memory_order_relaxed);
  t.model_seconds = static_cast<double>(model.nanoseconds.load(std::memory_order_relaxed)) * 1e-9;
  t.sync_waits = sync.waits.load(std::memory_order_relaxed);
  t.sync_seconds = static_cast<double>(sync.nanoseconds.load(std::memory_order_relaxed)) * 1e-9;
  return t;
}

WaitTotals operator-(const WaitTotals& b, const WaitTotals& a) {
  return {b.model_waits - a.model_waits, b.model_seconds - a.model_seconds,
          b.sync_waits - a.sync_waits, b.sync_seconds - a.sync_seconds};
}

}  // namespace galvatron::runtime
