// The log of the server and the coordinator (spdlog, to stderr): start-up,
// shutdown, backend health changes with the gRPC status that caused them,
// and refused or failed requests, rate-limited so that no client can fill
// the log.
#pragma once

#include <grpcpp/support/status.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace gs {

// The process's logger ("groupshard"): lines "[time] [level] message" on
// stderr. Created on first use; tests may replace it (spdlog::drop/register).
std::shared_ptr<spdlog::logger> Log();

// "UNAVAILABLE: failed to connect ..." (the code's name, then the message).
std::string StatusText(const grpc::Status& st);

// At most `burst` lines per `window` for each key (e.g. a status code); the
// lines dropped are counted and reported with the next line let through.
// Thread-safe.
class RateLimitedLog {
 public:
  RateLimitedLog(int burst, std::chrono::steady_clock::duration window)
      : burst_(burst), window_(window) {}

  // Logs `message` at `level` unless `key` has used its burst in this window.
  void Write(spdlog::level::level_enum level, const std::string& key, const std::string& message);

 private:
  struct Bucket {
    std::chrono::steady_clock::time_point start;
    int written = 0;
    int64_t dropped = 0;
  };
  const int burst_;
  const std::chrono::steady_clock::duration window_;
  std::mutex mu_;
  std::map<std::string, Bucket> buckets_;
};

}  // namespace gs
