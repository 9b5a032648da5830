// Example 2: a TFTP front for an HTTP repository. Each requested name is
// fetched from --origin (libcurl) on a fetcher thread and streamed to the
// client as it arrives; the bytes stay in a cache bounded by --cache_bytes,
// so a boot storm fetches each file from the origin once. Origin answers
// become TFTP errors: 404 is ERROR 1, 401/403 ERROR 2, anything else, an
// unreachable origin or one that dies mid-transfer ERROR 0 with the reason.
//
//   bazel run //server/examples:http_origin_server --
//       --origin=http://repo.example/boot --port=6969
#include <curl/curl.h>

#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gflags/gflags.h"
#include "server/api/log.h"
#include "server/api/request_handler.h"
#include "server/api/worker_pool.h"
#include "server/daemon/tftpd_runner.h"

DEFINE_string(origin, "", "Base URL of the HTTP repository.");
DEFINE_int64(cache_bytes, int64_t{1} << 30,
             "Bytes of fetched files kept for later requests (least recently "
             "used first out); files being fetched or sent are always kept.");
DEFINE_int32(fetchers, 8, "Origin fetches at once.");
DEFINE_double(origin_timeout, 20,
              "Seconds to connect, and seconds without a byte, before a fetch "
              "fails.");
DEFINE_int64(max_file_bytes, int64_t{4} << 30, "Largest file served.");

namespace {

using tftpd::Response;
using tftpd::ResponseStream;
using tftpd::StreamWriter;

std::string WithoutTrailingSlashes(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

class OriginCache : public tftpd::RequestHandler {
 public:
  OriginCache(std::string origin, uint64_t cache_bytes, int fetchers)
      : origin_(WithoutTrailingSlashes(std::move(origin))),
        cache_bytes_(cache_bytes),
        // Fetches not started when the server stops are dropped; their
        // streams fail with their writers.
        fetchers_(
            fetchers, [this](Job& job) { FetchAndCache(job); }, [](Job&) {}) {}

  // On a shard thread: a map lookup and a queue push, never a wait.
  Response Handle(const tftpd::RequestContext& request) override {
    std::vector<std::string> parts =
        absl::StrSplit(request.path, '/', absl::SkipEmpty());
    for (const std::string& part : parts) {
      if (part == "..") {
        return Response::Refuse(tftp::ErrorCode::kAccessViolation,
                                "no '..' in names");
      }
    }
    const std::string key = absl::StrJoin(parts, "/");
    if (key.empty()) {
      return Response::Refuse(tftp::ErrorCode::kFileNotFound, "no name");
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto it = entries_.find(key); it != entries_.end()) {
      if (!it->second.stream->state().failed) {
        lru_.splice(lru_.end(), lru_, it->second.lru);
        return Response::Stream(it->second.stream);
      }
      Forget(it);  // A failed fetch is tried again.
    }
    auto [stream, writer] = ResponseStream::Create(FLAGS_max_file_bytes);
    Entry& entry = entries_[key];
    entry.stream = stream;
    entry.lru = lru_.insert(lru_.end(), key);
    fetchers_.Post(Job{key, std::move(writer)});
    return Response::Stream(stream);
  }

 private:
  struct Entry {
    std::shared_ptr<ResponseStream> stream;
    std::list<std::string>::iterator lru;
    uint64_t cached = 0;  // Bytes counted against the cache, once complete.
  };
  struct Job {
    std::string key;
    StreamWriter writer;
  };
  struct Fetch {
    CURL* curl;
    StreamWriter* writer;
    bool begun = false;
    long status = 0;
  };

  void Forget(std::map<std::string, Entry>::iterator it) {
    cached_total_ -= it->second.cached;
    lru_.erase(it->second.lru);
    entries_.erase(it);
  }

  // On a fetcher thread.
  void FetchAndCache(Job& job) {
    const bool ok = FetchOne(job.key, &job.writer);
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(job.key);
    if (it == entries_.end()) return;
    if (!ok) {
      Forget(it);
      return;
    }
    it->second.cached = it->second.stream->state().available;
    cached_total_ += it->second.cached;
    // Evict the least recently used complete files no transfer holds.
    for (auto victim = lru_.begin();
         cached_total_ > cache_bytes_ && victim != lru_.end();) {
      auto e = entries_.find(*victim++);
      if (e->second.cached > 0 && e->second.stream.use_count() == 1) {
        Forget(e);
      }
    }
  }

  static size_t OnBytes(char* data, size_t size, size_t n, void* context) {
    Fetch* fetch = static_cast<Fetch*>(context);
    if (!fetch->begun) {
      curl_easy_getinfo(fetch->curl, CURLINFO_RESPONSE_CODE, &fetch->status);
      if (fetch->status != 200) return 0;  // The error body is not wanted.
      curl_off_t length = -1;
      curl_easy_getinfo(fetch->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T,
                        &length);
      fetch->writer->Begin(length >= 0 ? std::optional<uint64_t>(length)
                                       : std::nullopt);
      fetch->begun = true;
    }
    return fetch->writer->Append(absl::string_view(data, size * n)) ? size * n
                                                                    : 0;
  }

  // True when the whole file arrived; otherwise the stream has failed.
  bool FetchOne(const std::string& key, StreamWriter* writer) {
    CURL* curl = curl_easy_init();
    std::string url = origin_;
    for (absl::string_view part : absl::StrSplit(key, '/')) {
      char* escaped =
          curl_easy_escape(curl, part.data(), static_cast<int>(part.size()));
      absl::StrAppend(&url, "/", escaped);
      curl_free(escaped);
    }
    Fetch fetch{curl, writer};
    char error[CURL_ERROR_SIZE] = "";
    const long timeout = static_cast<long>(FLAGS_origin_timeout);
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &OriginCache::OnBytes);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &fetch);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, timeout);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, timeout);
    const CURLcode result = curl_easy_perform(curl);
    if (fetch.status == 0) {
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &fetch.status);
    }
    curl_easy_cleanup(curl);
    if (fetch.status == 404) {
      writer->Fail(tftp::ErrorCode::kFileNotFound, "file not found");
    } else if (fetch.status == 401 || fetch.status == 403) {
      writer->Fail(tftp::ErrorCode::kAccessViolation, "origin refused access");
    } else if (fetch.status != 0 && fetch.status != 200) {
      writer->Fail(tftp::ErrorCode::kNotDefined,
                   absl::StrCat("origin answered HTTP ", fetch.status));
    } else if (result != CURLE_OK) {
      const std::string reason = error[0] ? error : curl_easy_strerror(result);
      TFTPD_LOG(kWarning, "origin fetch %s: %s", url, reason);
      writer->Fail(tftp::ErrorCode::kNotDefined,
                   absl::StrCat("origin failed: ", reason));
    } else {
      if (!fetch.begun) writer->Begin(0);  // An empty file.
      if (writer->Finish()) return true;
    }
    return false;
  }

  std::string origin_;
  const uint64_t cache_bytes_;
  std::mutex mutex_;
  std::map<std::string, Entry> entries_;  // Guarded by mutex_, as below.
  std::list<std::string> lru_;            // Least recently used first.
  uint64_t cached_total_ = 0;
  // Last: destroyed first, so fetches end before what they use.
  tftpd::WorkerPool<Job> fetchers_;
};

}  // namespace

int main(int argc, char** argv) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  gflags::SetUsageMessage(
      "TFTP server streaming files from an HTTP repository\n"
      "usage: http_origin_server --origin=URL [tftpd flags]");
  return tftpd::RunTftpd(argc, argv, [](tftpd::ServerConfig& config) {
    if (!absl::StartsWith(FLAGS_origin, "http://") &&
        !absl::StartsWith(FLAGS_origin, "https://")) {
      return absl::InvalidArgumentError("--origin must be an http(s) URL");
    }
    config.handler = std::make_shared<OriginCache>(
        FLAGS_origin, static_cast<uint64_t>(FLAGS_cache_bytes),
        std::max(1, FLAGS_fetchers));
    return absl::OkStatus();
  });
}
