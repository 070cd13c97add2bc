#include "daemon/subscription.h"

#include <utility>

namespace bim::daemon {

// How many events one store read takes; the rest wait for the next read.
constexpr int kBatch = 64;

Subscription::Subscription(DeploymentStore& store, WatchHub& hub, std::string deployment_id,
                           int64_t after_seq, Sink& sink)
    : store_(store), hub_(hub), sink_(sink), id_(std::move(deployment_id)), cursor_(after_seq) {}

void Subscription::Begin(const Status& found, std::optional<int64_t> ended_at) {
  {
    std::lock_guard lock(mu_);
    if (!found.ok() || cancelled_) {
      EndLocked(found.ok() ? End::kCancelled : End::kRefused, found);
      return;
    }
    if (ended_at && cursor_ >= *ended_at) {
      EndLocked(End::kComplete);
      return;
    }
    subscribed_ = true;
  }
  // Joined before the first read, so no event can fall between that read and the next Notify.
  hub_.Subscribe(id_, this);
  Pump();
}

void Subscription::OnNewEvents() { Pump(); }

void Subscription::OnShutdown() {
  std::lock_guard lock(mu_);
  stopping_ = true;
  if (!writing_) EndLocked(End::kStopping);
}

void Subscription::WriteDone(bool ok) {
  {
    std::lock_guard lock(mu_);
    writing_ = false;
    if (!ok) {
      EndLocked(End::kWatcherGone);
      return;
    }
    if (stopping_) {
      EndLocked(End::kStopping);
      return;
    }
  }
  Pump();
}

void Subscription::Cancel() {
  std::lock_guard lock(mu_);
  cancelled_ = true;
  if (subscribed_ && !writing_) EndLocked(End::kCancelled);
}

void Subscription::Close() {
  bool subscribed;
  {
    std::lock_guard lock(mu_);
    subscribed = subscribed_;
  }
  if (subscribed) hub_.Unsubscribe(id_, this);
}

void Subscription::Pump() {
  std::string notice = hub_.Notice(id_);  // read before mu_: the two locks never nest
  std::unique_lock lock(mu_);
  if (writing_ || ended_ || cancelled_) return;
  if (notice != notice_sent_) {
    notice_sent_ = notice;
    item_ = Item{true, std::move(notice), {}};
    writing_ = true;
    lock.unlock();
    sink_.Deliver(item_);
    return;
  }
  if (buffer_.empty()) {
    auto batch = store_.EventsAfter(id_, cursor_, kBatch);
    if (!batch.ok()) {
      EndLocked(End::kStoreError, batch.error());
      return;
    }
    for (auto& e : *batch) buffer_.push_back(std::move(e));
  }
  if (buffer_.empty()) {
    if (terminal_sent_) EndLocked(End::kComplete);
    return;
  }
  item_ = Item{false, "", std::move(buffer_.front())};
  buffer_.pop_front();
  cursor_ = item_.event.seq;
  terminal_sent_ = item_.event.terminal;
  writing_ = true;
  lock.unlock();
  sink_.Deliver(item_);
}

void Subscription::EndLocked(End end, const Status& error) {
  if (ended_) return;
  ended_ = true;
  sink_.Ended(end, error);
}

}  // namespace bim::daemon
