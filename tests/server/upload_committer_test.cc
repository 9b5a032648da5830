// The committer's queue has a bound: a store slower than uploads arrive
// refuses the excess instead of holding every upload in a queue.
#include "server/uploads/upload_committer.h"

#include <future>
#include <memory>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace tftpd {
namespace {

// A sink whose commit waits until the test lets it finish.
class HeldSink : public UploadSink {
 public:
  explicit HeldSink(absl::Notification* release, absl::Notification* started)
      : release_(release), started_(started) {}
  absl::Status Write(uint64_t, absl::Span<const uint8_t>) override {
    return absl::OkStatus();
  }
  absl::Status Commit(uint64_t) override {
    if (started_ != nullptr) started_->Notify();
    release_->WaitForNotification();
    return absl::OkStatus();
  }
  void Abandon() override {}

 private:
  absl::Notification* release_;
  absl::Notification* started_;
};

TEST(UploadCommitter, RefusesCommitsBeyondItsQueue) {
  absl::Notification release;
  absl::Notification running;
  std::promise<void> first_done;
  std::promise<void> second_done;
  {
    UploadCommitter committer(/*threads=*/1, /*max_queued=*/1);
    // The first runs (and waits), the second waits in the queue...
    ASSERT_TRUE(committer.Commit(std::make_shared<HeldSink>(&release, &running),
                                 0, [&](const absl::Status& s) {
                                   EXPECT_TRUE(s.ok());
                                   first_done.set_value();
                                 }));
    running.WaitForNotification();
    ASSERT_TRUE(committer.Commit(std::make_shared<HeldSink>(&release, nullptr),
                                 0, [&](const absl::Status& s) {
                                   EXPECT_TRUE(s.ok());
                                   second_done.set_value();
                                 }));
    // ...and the third is refused, its callback never called.
    EXPECT_FALSE(committer.Commit(
        std::make_shared<HeldSink>(&release, nullptr), 0,
        [](const absl::Status&) { ADD_FAILURE() << "a refused commit ran"; }));
    release.Notify();
    first_done.get_future().wait();
    second_done.get_future().wait();
    // Room again.
    std::promise<void> fourth_done;
    EXPECT_TRUE(committer.Commit(
        std::make_shared<HeldSink>(&release, nullptr), 0,
        [&](const absl::Status&) { fourth_done.set_value(); }));
    fourth_done.get_future().wait();
  }
}

}  // namespace
}  // namespace tftpd
