#include "server/observability/status_board.h"

#include <algorithm>

namespace tftpd {
namespace {

// Outcomes an operator looks for when a machine does not boot; a
// superseded transfer (its client moved on) and a dropped request (the
// handler's choice) are not failures.
bool IsFailure(const std::string& outcome) {
  return outcome != "completed" && outcome != "superseded" &&
         outcome != "dropped";
}

}  // namespace

void StatusBoard::OnTransfer(const TransferStats& stats) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (IsFailure(stats.outcome)) {
    std::deque<Failure>& ring =
        stats.client_answered ? failures_ : unanswered_failures_;
    ring.push_front(Failure{
        stats.start_time +
            std::chrono::duration_cast<std::chrono::system_clock::duration>(
                stats.duration),
        stats.peer.ToString(), stats.requested_path, stats.outcome,
        stats.error_code, stats.error_message});
    if (ring.size() > max_failures_) ring.pop_back();
  }
  // Files of transfers whose clients answered only: a forged request costs
  // its sender nothing, so a flood of forged names must not push real files
  // out.
  if (stats.upload || max_files_ == 0 || !stats.client_answered) return;
  auto found = std::find_if(
      files_.begin(), files_.end(),
      [&](const FileCount& f) { return f.name == stats.requested_path; });
  if (found != files_.end()) {
    ++found->count;
  } else if (files_.size() < max_files_) {
    files_.push_back(FileCount{stats.requested_path, 1});
  } else {
    auto least = std::min_element(files_.begin(), files_.end(),
                                  [](const FileCount& a, const FileCount& b) {
                                    return a.count < b.count;
                                  });
    least->name = stats.requested_path;
    ++least->count;
    ++files_replaced_;
  }
}

std::vector<StatusBoard::Failure> StatusBoard::failures() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return {failures_.begin(), failures_.end()};
}

std::vector<StatusBoard::Failure> StatusBoard::unanswered_failures() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return {unanswered_failures_.begin(), unanswered_failures_.end()};
}

std::vector<StatusBoard::FileCount> StatusBoard::top_files(size_t n) const {
  std::vector<FileCount> files;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    files = files_;
  }
  std::stable_sort(
      files.begin(), files.end(),
      [](const FileCount& a, const FileCount& b) { return a.count > b.count; });
  if (files.size() > n) files.resize(n);
  return files;
}

uint64_t StatusBoard::files_replaced() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return files_replaced_;
}

}  // namespace tftpd
