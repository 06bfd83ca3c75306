#include "proto/serving_queue.h"

#include <utility>

namespace gs {

void ActiveRequest::Push(StreamChunk chunk) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    chunks_.push_back(std::move(chunk));
  }
  cv_.notify_one();
}

bool ActiveRequest::Pop(std::chrono::milliseconds timeout, std::vector<StreamChunk>* out) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, timeout, [this] { return !chunks_.empty(); })) return false;
  while (!chunks_.empty()) {
    out->push_back(std::move(chunks_.front()));
    chunks_.pop_front();
  }
  return true;
}

Status ServingQueue::Submit(std::shared_ptr<ActiveRequest> req) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return Status::Unavailable("the server is shutting down");
    if (in_flight_ >= options_.max_in_flight) {
      return Status::ResourceExhausted("the request queue is full (" +
                                       std::to_string(options_.max_in_flight) +
                                       " requests in flight)");
    }
    req->engine_request.id = next_id_++;
    ++in_flight_;
    submitted_.push_back(std::move(req));
  }
  cv_.notify_one();
  return Status::Ok();
}

void ServingQueue::Cancel(uint64_t id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_.push_back(id);
  }
  cv_.notify_one();
}

void ServingQueue::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  cv_.notify_one();
}

bool ServingQueue::closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_;
}

void ServingQueue::WaitForWork(bool engine_busy, std::chrono::milliseconds max_wait) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, max_wait, [&] {
    return engine_busy || !submitted_.empty() || !cancelled_.empty() || (closed_ && !close_seen_);
  });
  if (closed_) close_seen_ = true;
}

void ServingQueue::Take(std::vector<std::shared_ptr<ActiveRequest>>* submitted,
                        std::vector<uint64_t>* cancelled) {
  std::lock_guard<std::mutex> lock(mu_);
  submitted->insert(submitted->end(), std::make_move_iterator(submitted_.begin()),
                    std::make_move_iterator(submitted_.end()));
  submitted_.clear();
  cancelled->insert(cancelled->end(), cancelled_.begin(), cancelled_.end());
  cancelled_.clear();
}

void ServingQueue::Finished() {
  std::lock_guard<std::mutex> lock(mu_);
  --in_flight_;
}

int ServingQueue::in_flight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_flight_;
}

int ServingQueue::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(submitted_.size());
}

}  // namespace gs
