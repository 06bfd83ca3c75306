#include "proto/log.h"

#include <spdlog/sinks/stdout_sinks.h>

#include "proto/client.h"

namespace gs {

std::shared_ptr<spdlog::logger> Log() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (spdlog::get("groupshard") != nullptr) return;
    auto logger = spdlog::stderr_logger_mt("groupshard");
    logger->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
    logger->flush_on(spdlog::level::info);
  });
  auto logger = spdlog::get("groupshard");
  return logger != nullptr ? logger : spdlog::default_logger();
}

std::string StatusText(const grpc::Status& st) {
  const std::string name = GrpcCodeName(st.error_code());
  return st.error_message().empty() ? name : name + ": " + st.error_message();
}

void RateLimitedLog::Write(spdlog::level::level_enum level, const std::string& key,
                           const std::string& message) {
  int64_t dropped = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    Bucket& b = buckets_[key];
    if (b.written == 0 || now - b.start >= window_) {
      b.start = now;
      b.written = 0;
    }
    if (b.written >= burst_) {
      ++b.dropped;
      return;
    }
    ++b.written;
    dropped = b.dropped;
    b.dropped = 0;
  }
  if (dropped > 0) {
    Log()->log(level, "{} ({} more like it not logged)", message, dropped);
  } else {
    Log()->log(level, "{}", message);
  }
}

}  // namespace gs
