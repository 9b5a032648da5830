#include "server/uploads/postgres_upload_sink.h"

#include <postgresql/libpq-fe.h>

#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace tftpd {
namespace {

// A JSON string literal; bytes outside printable ASCII are escaped, so any
// content yields valid JSON (jsonb refuses invalid UTF-8).
std::string JsonString(absl::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte >= 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", byte);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

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

class PostgresUploadSink final : public UploadSink {
 public:
  PostgresUploadSink(std::shared_ptr<const PostgresUploadOptions> options,
                     std::string client, std::string file_name)
      : options_(std::move(options)),
        client_(std::move(client)),
        file_name_(std::move(file_name)) {}

  absl::Status Write(uint64_t offset,
                     absl::Span<const uint8_t> bytes) override {
    if (offset != content_.size()) {
      return absl::InternalError("upload bytes out of order");
    }
    content_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return absl::OkStatus();
  }

  absl::Status Commit(uint64_t size) override {
    if (size != content_.size()) {
      return absl::InternalError("upload size does not match");
    }
    // A database that does not answer fails the upload in bounded time
    // (a connect_timeout in the connection string wins).
    const char* keywords[] = {"connect_timeout", "dbname", nullptr};
    const char* values[] = {"10", options_->connection.c_str(), nullptr};
    Connection db(PQconnectdbParams(keywords, values, /*expand_dbname=*/1));
    if (db == nullptr || PQstatus(db.get()) != CONNECTION_OK) {
      return absl::UnavailableError(absl::StrCat(
          "database unavailable: ", FirstLine(PQerrorMessage(db.get()))));
    }
    char* quoted = PQescapeIdentifier(db.get(), options_->table.data(),
                                      options_->table.size());
    if (quoted == nullptr) {
      return absl::InvalidArgumentError("bad table name");
    }
    const std::string table = quoted;
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
    const UploadFields fields = options_->extract
                                    ? options_->extract(file_name_, content_)
                                    : UploadFields{};
    const std::string size_text = absl::StrCat(size);
    const std::string json = JsonObject(fields);
    const char* params[] = {client_.c_str(), file_name_.c_str(),
                            size_text.c_str(), content_.data(), json.c_str()};
    const int lengths[] = {0, 0, 0, static_cast<int>(content_.size()), 0};
    const int formats[] = {0, 0, 0, 1, 0};  // The content goes as binary.
    const std::string insert = absl::StrCat(
        "INSERT INTO ", table,
        " (client_address, file_name, size, sha256, content, fields) VALUES "
        "($1, $2, $3::bigint, encode(sha256($4::bytea), 'hex'), $4::bytea, "
        "$5::jsonb)");
    if (absl::Status s = Exec(db.get(), "BEGIN"); !s.ok()) return s;
    Result inserted(PQexecParams(db.get(), insert.c_str(), 5, nullptr, params,
                                 lengths, formats, 0));
    if (PQresultStatus(inserted.get()) != PGRES_COMMAND_OK) {
      const std::string why = FirstLine(PQerrorMessage(db.get()));
      Exec(db.get(), "ROLLBACK").IgnoreError();
      return absl::UnavailableError(absl::StrCat("database refused: ", why));
    }
    return Exec(db.get(), "COMMIT");
  }

  void Abandon() override { content_.clear(); }

 private:
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
  std::string content_;
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
