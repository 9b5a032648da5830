#include "server/uploads/postgres_upload_sink.h"

#include <fcntl.h>
#include <postgresql/libpq-fe.h>
#include <postgresql/libpq/libpq-fs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/observability/json_string.h"

namespace tftpd {
namespace {

std::string JsonObject(const UploadFields& fields) {
  std::string out = "{";
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out += ",";
    absl::StrAppend(&out, JsonString(fields[i].first), ":",
                    JsonString(fields[i].second));
  }
  return out + "}";
}

// The first line of libpq's message, for the client's ERROR and the log.
std::string FirstLine(const char* message) {
  const absl::string_view text = message != nullptr ? message : "";
  return std::string(
      absl::StripAsciiWhitespace(text.substr(0, text.find('\n'))));
}

struct ConnectionCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultClearer {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Connection = std::unique_ptr<PGconn, ConnectionCloser>;
using Result = std::unique_ptr<PGresult, ResultClearer>;

// PostgreSQL's bytea holds at most 1 GiB.
constexpr uint64_t kMaxContent = uint64_t{1} << 30;
// What the extractor sees of an upload: its head, held in memory.
constexpr size_t kExtractBytes = 1 << 20;
// Bytes read from the spool file and sent to the database at a time.
constexpr size_t kChunk = 256 << 10;

class PostgresUploadSink final : public UploadSink {
 public:
  PostgresUploadSink(std::shared_ptr<const PostgresUploadOptions> options,
                     std::string client, std::string file_name)
      : options_(std::move(options)),
        client_(std::move(client)),
        file_name_(std::move(file_name)) {}
  ~PostgresUploadSink() override { Abandon(); }

  absl::Status Write(uint64_t offset,
                     absl::Span<const uint8_t> bytes) override {
    if (offset != size_) {
      return absl::InternalError("upload bytes out of order");
    }
    if (size_ + bytes.size() > kMaxContent) {
      return absl::ResourceExhaustedError(
          "upload too large for the database (1 GiB)");
    }
    if (spool_ < 0) {
      // An unnamed file: nothing to clean up whatever happens.
      spool_ = open(options_->spool_directory.c_str(),
                    O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
      if (spool_ < 0) {
        return absl::ErrnoToStatus(
            errno, "cannot spool the upload in " + options_->spool_directory);
      }
    }
    if (head_.size() < kExtractBytes) {
      const size_t n = std::min(bytes.size(), kExtractBytes - head_.size());
      head_.append(reinterpret_cast<const char*>(bytes.data()), n);
    }
    while (!bytes.empty()) {
      const ssize_t n = pwrite(spool_, bytes.data(), bytes.size(),
                               static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        return absl::ResourceExhaustedError("cannot spool the upload");
      }
      bytes.remove_prefix(static_cast<size_t>(n));
      offset += static_cast<uint64_t>(n);
    }
    size_ = offset;
    return absl::OkStatus();
  }

  // Connects `db` and makes the table if it is missing; the table's name,
  // quoted.
  absl::StatusOr<std::string> Connect(Connection& db) {
    // A database that does not answer fails the upload in bounded time
    // (a connect_timeout or options in the connection string win).
    const std::string statement_timeout =
        absl::StrCat("-c statement_timeout=",
                     std::max<int64_t>(1, options_->statement_timeout.count()));
    const char* keywords[] = {"connect_timeout", "options", "dbname", nullptr};
    const char* values[] = {"10", statement_timeout.c_str(),
                            options_->connection.c_str(), nullptr};
    db.reset(PQconnectdbParams(keywords, values, /*expand_dbname=*/1));
    if (db == nullptr || PQstatus(db.get()) != CONNECTION_OK) {
      return absl::UnavailableError(absl::StrCat(
          "database unavailable: ", FirstLine(PQerrorMessage(db.get()))));
    }
    char* quoted = PQescapeIdentifier(db.get(), options_->table.data(),
                                      options_->table.size());
    if (quoted == nullptr) {
      return absl::InvalidArgumentError("bad table name");
    }
    std::string table = quoted;
    PQfreemem(quoted);
    // Made once by whichever upload comes first (a concurrent creation may
    // fail; the table is there either way).
    Result(PQexec(db.get(),
                  absl::StrCat("CREATE TABLE IF NOT EXISTS ", table,
                               " (id bigserial PRIMARY KEY, client_address "
                               "text NOT NULL, file_name text NOT NULL, size "
                               "bigint NOT NULL, sha256 text NOT NULL, "
                               "received_at timestamptz NOT NULL DEFAULT "
                               "now(), content bytea NOT NULL, fields jsonb "
                               "NOT NULL DEFAULT '{}')")
                      .c_str()));
    return table;
  }

  absl::Status Commit(uint64_t size) override {
    if (size != size_) {
      return absl::InternalError("upload size does not match");
    }
    Connection db;
    absl::StatusOr<std::string> table = Connect(db);
    if (!table.ok()) return table.status();
    const UploadFields fields = options_->extract
                                    ? options_->extract(file_name_, head_)
                                    : UploadFields{};
    if (absl::Status s = Exec(db.get(), "BEGIN"); !s.ok()) return s;
    // The bytes go over in chunks into a large object, which the row then
    // takes whole inside the database: memory here stays one chunk.
    absl::StatusOr<Oid> object = SendContent(db.get());
    if (!object.ok()) {
      Exec(db.get(), "ROLLBACK").IgnoreError();
      return object.status();
    }
    const std::string size_text = absl::StrCat(size);
    const std::string object_text = absl::StrCat(*object);
    const std::string json = JsonObject(fields);
    const char* params[] = {client_.c_str(), file_name_.c_str(),
                            size_text.c_str(), object_text.c_str(),
                            json.c_str()};
    const std::string insert = absl::StrCat(
        "WITH upload AS (SELECT lo_get($4::oid) AS content) INSERT INTO ",
        *table,
        " (client_address, file_name, size, sha256, content, fields) SELECT "
        "$1, $2, $3::bigint, encode(sha256(content), 'hex'), content, "
        "$5::jsonb FROM upload");
    Result inserted(PQexecParams(db.get(), insert.c_str(), 5, nullptr, params,
                                 nullptr, nullptr, 0));
    if (PQresultStatus(inserted.get()) != PGRES_COMMAND_OK ||
        lo_unlink(db.get(), *object) != 1) {
      const std::string why = FirstLine(PQerrorMessage(db.get()));
      Exec(db.get(), "ROLLBACK").IgnoreError();
      return absl::UnavailableError(absl::StrCat("database refused: ", why));
    }
    return Exec(db.get(), "COMMIT");
  }

  void Abandon() override {
    if (spool_ >= 0) close(spool_);
    spool_ = -1;
    head_.clear();
  }

 private:
  // The spooled bytes into a new large object, inside the open transaction.
  absl::StatusOr<Oid> SendContent(PGconn* db) {
    const Oid object = lo_creat(db, INV_READ | INV_WRITE);
    const int fd = object == InvalidOid ? -1 : lo_open(db, object, INV_WRITE);
    if (fd < 0) {
      return absl::UnavailableError(
          absl::StrCat("database: ", FirstLine(PQerrorMessage(db))));
    }
    std::string chunk(kChunk, '\0');
    for (uint64_t offset = 0; offset < size_;) {
      const ssize_t n =
          pread(spool_, chunk.data(), chunk.size(), static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return absl::DataLossError("cannot read the spooled upload");
      if (lo_write(db, fd, chunk.data(), static_cast<size_t>(n)) != n) {
        return absl::UnavailableError(
            absl::StrCat("database: ", FirstLine(PQerrorMessage(db))));
      }
      offset += static_cast<uint64_t>(n);
    }
    if (lo_close(db, fd) != 0) {
      return absl::UnavailableError(
          absl::StrCat("database: ", FirstLine(PQerrorMessage(db))));
    }
    return object;
  }

  static absl::Status Exec(PGconn* db, const char* sql) {
    Result result(PQexec(db, sql));
    if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
      return absl::UnavailableError(
          absl::StrCat("database: ", FirstLine(PQerrorMessage(db))));
    }
    return absl::OkStatus();
  }

  const std::shared_ptr<const PostgresUploadOptions> options_;
  const std::string client_;
  const std::string file_name_;
  int spool_ = -1;
  uint64_t size_ = 0;
  std::string head_;  // The first kExtractBytes, for the extractor.
};

class PostgresHandler final : public RequestHandler {
 public:
  PostgresHandler(std::shared_ptr<RequestHandler> inner,
                  std::shared_ptr<const PostgresUploadOptions> options)
      : inner_(std::move(inner)), options_(std::move(options)) {}
  Response Handle(const RequestContext& request) override {
    return inner_->Handle(request);
  }
  UploadResponse HandleUpload(const RequestContext& request) override {
    return UploadResponse::Sink(MakePostgresUploadSink(options_, request));
  }

 private:
  const std::shared_ptr<RequestHandler> inner_;
  const std::shared_ptr<const PostgresUploadOptions> options_;
};

}  // namespace

UploadFields PostgresUploadOptions::ExtractHostname(absl::string_view,
                                                    absl::string_view content) {
  for (absl::string_view line : absl::StrSplit(content, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    absl::string_view value;
    if (absl::ConsumePrefix(&line, "set hostname ")) {
      value = absl::StripAsciiWhitespace(line);
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
    } else if (absl::ConsumePrefix(&line, "hostname ")) {
      value = absl::StripAsciiWhitespace(line);
    } else {
      continue;
    }
    if (!value.empty()) return {{"hostname", std::string(value)}};
  }
  return {};
}

std::shared_ptr<UploadSink> MakePostgresUploadSink(
    std::shared_ptr<const PostgresUploadOptions> options,
    const RequestContext& context) {
  return std::make_shared<PostgresUploadSink>(
      std::move(options), context.peer.Unmapped().HostString(), context.path);
}

std::shared_ptr<RequestHandler> PostgresUploadHandler(
    std::shared_ptr<RequestHandler> inner,
    std::shared_ptr<const PostgresUploadOptions> options) {
  return std::make_shared<PostgresHandler>(std::move(inner),
                                           std::move(options));
}

}  // namespace tftpd
