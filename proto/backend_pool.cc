#include "proto/backend_pool.h"

#include <algorithm>
#include <limits>

#include "proto/log.h"

namespace gs {

namespace pb = groupshard::v1;
using HealthStatus = grpc::health::v1::HealthCheckResponse;

struct BackendPool::Backend {
  std::string address;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::Inference::Stub> stub;
  std::unique_ptr<grpc::health::v1::Health::Stub> health;
  // Guarded by BackendPool::mu_.
  bool healthy = false;
  bool checked = false;
  bool logged = false;  // its first state has been logged
  int64_t outstanding = 0;  // cost of this coordinator's open requests
  int64_t in_flight = 0;
  int64_t routed = 0;
  pb::ModelInfoResponse info;
};

BackendPool::Lease::Lease(BackendPool* pool, Backend* backend, int64_t cost)
    : pool_(pool), backend_(backend), cost_(cost) {}

BackendPool::Lease::~Lease() {
  std::lock_guard<std::mutex> lock(pool_->mu_);
  backend_->outstanding -= cost_;
  --backend_->in_flight;
}

const std::string& BackendPool::Lease::address() const { return backend_->address; }

pb::Inference::Stub& BackendPool::Lease::stub() const { return *backend_->stub; }

void BackendPool::Lease::Authorize(grpc::ClientContext* ctx) const {
  if (!pool_->options_.token.empty()) {
    ctx->AddMetadata("authorization", "Bearer " + pool_->options_.token);
  }
}

void BackendPool::Lease::MarkFailed(const grpc::Status& why) const {
  pool_->SetHealthy(backend_, false, "a request failed: " + StatusText(why));
}


BackendPool::BackendPool(const std::vector<std::string>& addresses, BackendPoolOptions options)
    : options_(std::move(options)) {
  if (!options_.credentials) options_.credentials = grpc::InsecureChannelCredentials();
  for (const std::string& a : addresses) {
    auto b = std::make_unique<Backend>();
    b->address = a;
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(options_.max_message_bytes);
    args.SetMaxSendMessageSize(options_.max_message_bytes);
    // A backend that comes back must be found by the next check, not after
    // gRPC's default reconnect backoff (up to two minutes).
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 200);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    b->channel = grpc::CreateCustomChannel(a, options_.credentials, args);
    b->stub = pb::Inference::NewStub(b->channel);
    b->health = grpc::health::v1::Health::NewStub(b->channel);
    backends_.push_back(std::move(b));
  }
}

BackendPool::~BackendPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : checkers_) t.join();
}

void BackendPool::Start(std::chrono::milliseconds timeout) {
  for (auto& b : backends_) checkers_.emplace_back([this, p = b.get()] { CheckLoop(p); });
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout, [this] {
    return std::all_of(backends_.begin(), backends_.end(), [](auto& b) { return b->checked; });
  });
}

void BackendPool::CheckLoop(Backend* b) {
  while (true) {
    CheckOnce(b);
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, options_.check_interval, [this] { return stop_; })) return;
  }
}

void BackendPool::CheckOnce(Backend* b) {
  bool healthy = false;
  std::string why;  // when not healthy
  pb::ModelInfoResponse info;
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + options_.check_timeout);
    if (!options_.token.empty()) ctx.AddMetadata("authorization", "Bearer " + options_.token);
    grpc::health::v1::HealthCheckRequest req;
    HealthStatus resp;
    const grpc::Status st = b->health->Check(&ctx, req, &resp);
    healthy = st.ok() && resp.status() == HealthStatus::SERVING;
    if (st.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
        st.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
      // Alive, but not ours to use: not to be read as a dead backend.
      why = "it refused the coordinator's token (" + StatusText(st) +
            "); check --backend-token-file";
    } else if (!st.ok()) {
      why = "health check failed: " + StatusText(st);
    } else if (!healthy) {
      why = "it reports " + HealthStatus::ServingStatus_Name(resp.status());
    }
  }
  bool have_info = false;
  if (healthy) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + options_.check_timeout);
    if (!options_.token.empty()) ctx.AddMetadata("authorization", "Bearer " + options_.token);
    have_info = b->stub->ModelInfo(&ctx, pb::ModelInfoRequest(), &info).ok();
    // Draining: it finishes what it holds but takes nothing new.
    if (have_info && info.draining()) {
      healthy = false;
      why = "it is draining";
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (have_info) b->info = std::move(info);
    b->checked = true;
  }
  SetHealthy(b, healthy, why);
  cv_.notify_all();
}

void BackendPool::SetHealthy(Backend* b, bool healthy, const std::string& why) {
  bool changed = false;
  bool any = false;
  bool flipped = false, first = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    flipped = b->healthy != healthy;
    first = !b->logged;
    b->logged = true;
    b->healthy = healthy;
    any = std::any_of(backends_.begin(), backends_.end(), [](auto& x) { return x->healthy; });
    changed = any != any_healthy_;
    any_healthy_ = any;
  }
  if (flipped || first) {
    if (healthy) {
      Log()->info("backend {} is healthy", b->address);
    } else {
      Log()->warn("backend {} is not healthy: {}", b->address, why);
    }
  }
  if (changed && options_.on_health_change) options_.on_health_change(any);
}

std::unique_ptr<BackendPool::Lease> BackendPool::Pick(const std::vector<const Backend*>& exclude,
                                                      int64_t cost) {
  std::lock_guard<std::mutex> lock(mu_);
  const size_t n = backends_.size();
  Backend* best = nullptr;
  size_t best_index = 0;
  int64_t best_work = std::numeric_limits<int64_t>::max();
  // Scanning from next_ and keeping only strict improvements gives ties to
  // the first in turn after the last one chosen.
  for (size_t k = 0; k < n; ++k) {
    const size_t i = (next_ + k) % n;
    Backend* b = backends_[i].get();
    if (!b->healthy || std::find(exclude.begin(), exclude.end(), b) != exclude.end()) continue;
    const int64_t work = b->info.load() + b->outstanding;
    if (work < best_work) {
      best = b;
      best_index = i;
      best_work = work;
    }
  }
  if (best == nullptr) return nullptr;
  next_ = best_index + 1;
  best->outstanding += cost;
  ++best->in_flight;
  ++best->routed;
  return std::make_unique<Lease>(this, best, cost);
}

bool BackendPool::AnyHealthy() const {
  std::lock_guard<std::mutex> lock(mu_);
  return any_healthy_;
}

std::vector<BackendGauges> BackendPool::Gauges() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<BackendGauges> out;
  for (const auto& b : backends_) {
    BackendGauges g;
    g.address = b->address;
    g.healthy = b->healthy;
    g.in_flight = b->in_flight;
    g.routed = b->routed;
    g.load = b->info.load();
    g.queue_depth = b->info.queue_depth();
    g.running = b->info.running();
    g.kv_total_blocks = b->info.kv_total_blocks();
    g.kv_free_blocks = b->info.kv_free_blocks();
    g.kv_cached_blocks = b->info.kv_cached_blocks();
    g.prefix_hit_tokens = b->info.prefix_hit_tokens();
    g.prefix_query_tokens = b->info.prefix_query_tokens();
    out.push_back(g);
  }
  return out;
}

std::vector<pb::ModelInfoResponse> BackendPool::HealthyInfos() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<pb::ModelInfoResponse> out;
  for (const auto& b : backends_) {
    if (b->healthy) out.push_back(b->info);
  }
  return out;
}

}  // namespace gs
