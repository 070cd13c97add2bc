#include "daemon/deployment_watcher.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/backoff.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/rate_window.h"

namespace bim::daemon {

using contract::StageRank;

NewEvent PlatformEvent(const std::string& deployment_id, contract::StageEvent event,
                       EventSource source, std::optional<int64_t> upstream_seq) {
  NewEvent e;
  e.source = source;
  e.upstream_seq = upstream_seq;
  const auto& url = event.url;
  Status checked = url ? contract::CheckUrlToOpen(*url, "deployment URL")
                       : Status(Error(ErrorCode::kProtocol, "the platform gave no URL"));
  if (!checked.ok()) {
    if (event.status == contract::Stage::kComplete) {
      e.problem = "the platform reported the deployment complete without a usable URL (" +
                  checked.error().message + "): a platform error";
      log::Warn("deployment {}: {}", deployment_id, e.problem);
    } else if (url) {
      log::Warn("deployment {}: ignored a URL on the {} stage: {}", deployment_id,
                contract::StageName(event.status), checked.error().message);
    }
    event.url.reset();
  }
  e.event = std::move(event);
  return e;
}

DeploymentWatcher::DeploymentWatcher(WatcherDeps deps, DeploymentRecord record)
    : deps_(deps), id_(record.id) {
  terminal_ = record.terminal;
  problem_ = record.stream_problem;
  if (record.over_budget) quiet_problem_ = OverBudgetNote();
}

DeploymentWatcher::~DeploymentWatcher() { Stop(); }

void DeploymentWatcher::Start() {
  thread_ = std::thread([this] {
    Run();
    finished_ = true;
    if (deps_.on_finished && !deps_.stop.stopped()) deps_.on_finished();
  });
}

void DeploymentWatcher::Stop() {
  {
    std::lock_guard lock(conn_mu_);
    if (stream_) stream_->Close();
  }
  if (thread_.joinable()) thread_.join();
}

void DeploymentWatcher::SetProblem(const std::string& problem) {
  // Once terminal, the stored event decided the problem (none, or a refused URL) for good.
  if (terminal_ || problem == problem_) return;
  problem_ = problem;
  if (problem == quiet_problem_) {
    log::Info("deployment {}: stream restored", id_);
  } else {
    log::Warn("deployment {}: {}", id_, problem);
  }
  if (auto s = deps_.store.SetStreamProblem(id_, problem); !s.ok()) {
    log::Error("deployment {}: {}", id_, s.error().message);
  }
}

int64_t DeploymentWatcher::TakenSeq() {
  auto d = deps_.store.Get(id_);
  return d.ok() && *d ? (*d)->upstream_seq : 0;
}

bool DeploymentWatcher::Store(const NewEvent& e) {
  auto stored = deps_.store.Append(id_, e);
  if (!stored.ok()) {
    // Nothing after it may be taken in either, or this stage would be lost for good once a
    // later one is stored: Run() drops the stream and reads it again from the last stored event.
    store_failed_ = true;
    // Not stored means not seen: leave the cursors alone so the next replay or poll retries.
    // Meanwhile no watch hears anything new, and the store cannot keep the reason (writing is
    // what fails): the hub holds it, so every watch and `status` can say why at once.
    std::string why = fmt::format("cannot store the {} event: {}",
                                  contract::StageName(e.event.status), stored.error().message);
    log::Error("deployment {}: {}", id_, why);
    deps_.hub.SetNotice(id_, why +
                                 ". The deployment goes on; the agent stores its events as soon "
                                 "as it can write its state folder again (`backend-im daemon "
                                 "status` shows where it is)");
    return false;
  }
  if (stored->skipped == Appended::Skipped::kBack) {
    // A platform can send such messages as fast as it likes: one line per interval, counted.
    if (uint64_t held_back = 0; back_log_.Allow(&held_back)) {
      log::Warn(
          "deployment {}: skipped message {} going back to {}{}", id_, e.upstream_seq.value_or(0),
          contract::StageName(e.event.status),
          held_back ? fmt::format(" ({} more such messages since the last note)", held_back) : "");
    }
  }
  // Someone else stored its end (the deploy answer said it had ended): nothing more to follow.
  if (stored->skipped == Appended::Skipped::kEnded) terminal_ = true;
  if (stored->skipped != Appended::Skipped::kNo) return false;
  deps_.hub.SetNotice(id_, "");
  if (stored->went_over_budget && e.problem.empty()) {
    // Said once, and it stays the stream's note (SetProblem of a healthy stream returns to it)
    // until the deployment ends.
    quiet_problem_ = OverBudgetNote();
    log::Warn("deployment {}: {}", id_, quiet_problem_);
    problem_ = quiet_problem_;
    if (auto s = deps_.store.SetStreamProblem(id_, quiet_problem_); !s.ok()) {
      log::Error("deployment {}: {}", id_, s.error().message);
    }
  }
  if (!stored->event) return true;  // taken in, but over the budget: not stored
  terminal_ = stored->event->terminal;
  log::Info("deployment {}: {} (event {}, from {})", id_, contract::StageName(e.event.status),
            stored->event->seq, EventSourceName(e.source));
  deps_.hub.Notify(id_);
  if (terminal_ && deps_.on_ended) deps_.on_ended(*stored->event);
  return true;
}

bool DeploymentWatcher::Accept(const contract::StageMessage& m) {
  if (terminal_) return false;
  NewEvent e = PlatformEvent(id_, m, EventSource::kStream, m.seq);
  e.newness = Newness::kStream;
  return Store(e);
}

bool DeploymentWatcher::PollMovesOn(const contract::StatusResponse& s) {
  if (terminal_) return false;
  auto d = deps_.store.Get(id_);
  if (!d.ok() || !*d) return false;
  int stored_rank = (*d)->last_seq > 0 ? StageRank((*d)->status) : -1;
  return StageRank(s.status) > stored_rank;
}

void DeploymentWatcher::AcceptStatus(const contract::StatusResponse& s) {
  if (terminal_) return;
  NewEvent e = PlatformEvent(id_, s, EventSource::kPoll, s.seq);
  e.newness = Newness::kPoll;
  Store(e);
}

void DeploymentWatcher::Run() {
  Backoff backoff(std::chrono::milliseconds(500), deps_.max_backoff, deps_.random, 1.7);
  int not_found = 0;
  // Set when a poll answered while the stream could not be had: the stream is tried once more
  // at once, before the poll is stored (see below).
  bool stream_retried = false;
  while (!terminal_ && !deps_.stop.stopped()) {
    store_failed_ = false;
    auto stream = deps_.auth.Call<std::unique_ptr<EventStream>>([&](const std::string& token) {
      return deps_.platform.OpenEventStream(token, id_, TakenSeq(), deps_.ping_interval);
    });
    if (stream.ok()) {
      {
        std::lock_guard lock(conn_mu_);
        stream_ = stream->get();
      }
      if (deps_.stop.stopped()) (*stream)->Close();  // a Stop() that came before stream_ was set
      std::string why;
      // Frames outside the contract, and messages for another deployment: the first of a
      // stream is logged, the rest counted in one line when it ends; past the rate the stream is
      // closed, and opened again after the backoff.
      RateWindow junk_rate(limits::kMaxStreamJunkFrames, limits::kStreamRateWindow);
      uint64_t junk = 0;
      bool cut = false;  // for breaking a limit, by the agent
      while (!terminal_) {
        StreamItem item = (*stream)->Next(std::chrono::minutes(10));
        if (item.kind == StreamItem::Kind::kTimeout) continue;
        if (item.kind == StreamItem::Kind::kClosed) {
          why = item.detail;
          cut = item.cut;
          break;
        }
        if (item.kind == StreamItem::Kind::kMessage && item.message.deployment_id != id_) {
          item.kind = StreamItem::Kind::kSkipped;
          item.detail =
              "a message for another deployment (" + item.message.deployment_id.substr(0, 64) + ")";
        }
        if (item.kind == StreamItem::Kind::kSkipped) {
          if (junk++ == 0) {
            log::Warn("deployment {}: skipped a frame outside the contract: {}", id_, item.detail);
          }
          if (!junk_rate.Add(deps_.clock.Steady())) {
            why = fmt::format(
                "the platform sent more than {} frames outside the contract within "
                "{} s; closed by the agent",
                junk_rate.limit(), limits::kStreamRateWindow.count());
            // No close handshake: it would read the flood for its 2 s.
            (*stream)->Cut();
            cut = true;
            break;
          }
          continue;
        }
        if (Accept(item.message)) {
          backoff.Reset();
          SetProblem(quiet_problem_);
        } else if (store_failed_) {
          break;
        }
      }
      if (junk > 1) {
        log::Warn("deployment {}: skipped {} frames outside the contract on this stream", id_,
                  junk);
      }
      if (cut && !terminal_) {
        // Every watch hears it at once (the hub's notice, cleared by the next event stored),
        // not only `status`.
        deps_.hub.SetNotice(id_, "the agent cut the platform's event stream (" + why +
                                     "); it opens it again after a pause and polls the status "
                                     "meanwhile");
      }
      {
        std::lock_guard lock(conn_mu_);
        stream_ = nullptr;
      }
      (*stream)->Close();
      if (terminal_ || deps_.stop.stopped()) break;
      if (store_failed_) {
        // Neither the stream's later messages nor a poll (whose newest stage would jump over
        // the refused one): wait, then read the stream again from the last stored event.
        if (!deps_.clock.SleepFor(deps_.stop, backoff.Next())) break;
        continue;
      }
      SetProblem("the platform's event stream ended before the deployment finished (" + why +
                 "); reconnecting and polling the status meanwhile");
    } else if (stream.error().code == ErrorCode::kUnauthenticated) {
      SetProblem(stream.error().message);
    } else {
      SetProblem("cannot open the platform's event stream (" + stream.error().message +
                 "); retrying and polling the status meanwhile");
    }

    auto status = deps_.auth.Call<contract::StatusResponse>(
        [&](const std::string& token) { return deps_.platform.Status(token, id_); });
    if (status.ok()) {
      not_found = 0;
      // A poll has only the newest stage; the stream has every stage since the last one taken
      // in. When the platform answers again (an outage that ended between the stream's attempt
      // and the poll), read the stream first, so the stages in between are not skipped; only
      // when it still cannot be had is the poll stored.
      if (!stream_retried && PollMovesOn(*status)) {
        stream_retried = true;
        continue;
      }
      AcceptStatus(*status);
    } else if (status.error().code == ErrorCode::kNotFound && ++not_found >= 5) {
      SetProblem("the platform does not know this deployment any more; stopped following it");
      return;
    } else if (status.error().code != ErrorCode::kCancelled) {
      log::Warn("deployment {}: status poll failed: {}", id_, status.error().message);
    }
    stream_retried = false;
    if (terminal_) break;
    if (!deps_.clock.SleepFor(deps_.stop, backoff.Next())) break;
  }
}

}  // namespace bim::daemon
