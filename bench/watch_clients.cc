#include "bench/watch_clients.h"

namespace bim::bench {

namespace pb = backend_im::v1;

int64_t NowUnixUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class WatchClients::Stream final : public grpc::ClientReadReactor<pb::DeploymentEvent> {
 public:
  Stream(WatchClients& owner, StreamResult& out) : owner_(owner), out_(out) {}

  void Start(pb::Agent::Stub& stub, const std::string& id) {
    req_.set_deployment_id(id);
    stub.async()->Watch(&ctx_, &req_, this);
    StartRead(&ev_);
    StartCall();
  }
  void Cancel() { ctx_.TryCancel(); }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    out_.receipts.push_back({ev_.seq(), ev_.status(), NowUnixUs(), ev_.received_at_unix_ms()});
    if (out_.receipts.size() == 1) owner_.ready_.fetch_add(1);
    StartRead(&ev_);
  }

  void OnDone(const grpc::Status& s) override {
    out_.status = s;
    std::lock_guard lock(owner_.mu_);
    owner_.done_.fetch_add(1);
    owner_.cv_.notify_all();
  }

 private:
  WatchClients& owner_;
  StreamResult& out_;
  grpc::ClientContext ctx_;
  pb::WatchRequest req_;
  pb::DeploymentEvent ev_;
};

WatchClients::WatchClients(const std::string& socket_path, const std::string& deployment_id,
                           int streams)
    : results_(static_cast<size_t>(streams)) {
  constexpr int kStreamsPerChannel = 100;
  for (int i = 0; i < streams; i += kStreamsPerChannel) {
    grpc::ChannelArguments args;
    // A channel of its own per 100 streams, not one connection shared by all.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    channels_.push_back(
        grpc::CreateCustomChannel("unix:" + socket_path, grpc::InsecureChannelCredentials(), args));
    stubs_.push_back(pb::Agent::NewStub(channels_.back()));
  }
  for (int i = 0; i < streams; ++i) {
    streams_.push_back(std::make_unique<Stream>(*this, results_[static_cast<size_t>(i)]));
    streams_.back()->Start(*stubs_[static_cast<size_t>(i / kStreamsPerChannel)], deployment_id);
  }
}

WatchClients::~WatchClients() { CancelAll(); }

bool WatchClients::WaitDone(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout,
                      [this] { return done_.load() == static_cast<int>(streams_.size()); });
}

void WatchClients::CancelAll() {
  if (done_.load() == static_cast<int>(streams_.size())) return;
  for (auto& s : streams_) s->Cancel();
  WaitDone(std::chrono::seconds(30));
}

}  // namespace bim::bench
