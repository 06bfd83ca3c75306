#include "proto/coordinator_security.h"

#include <fstream>
#include <sstream>

namespace gs {

StatusOr<std::string> ReadPemFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::NotFound(path + ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

StatusOr<std::string> ReadTokenFile(const std::string& path) {
  GS_ASSIGN_OR_RETURN(std::string text, ReadPemFile(path));
  const char* ws = " \t\r\n";
  const size_t b = text.find_first_not_of(ws);
  if (b == std::string::npos) return Status::InvalidArgument(path + ": the token file is empty");
  const size_t e = text.find_last_not_of(ws);
  std::string token = text.substr(b, e - b + 1);
  if (token.find_first_of(ws) != std::string::npos) {
    return Status::InvalidArgument(path + ": the token must be one word");
  }
  return token;
}

bool BearerMatches(const std::string& header, const std::string& token) {
  if (token.empty()) return true;
  static const std::string kPrefix = "Bearer ";
  if (header.size() != kPrefix.size() + token.size()) return false;
  // No early exit: the time taken must not say how much of the token matched.
  unsigned char diff = 0;
  for (size_t i = 0; i < header.size(); ++i) {
    const char want = i < kPrefix.size() ? kPrefix[i] : token[i - kPrefix.size()];
    diff |= static_cast<unsigned char>(header[i] ^ want);
  }
  return diff == 0;
}

grpc::Status CheckBearer(const grpc::ServerContext& ctx, const std::string& token) {
  if (token.empty()) return grpc::Status::OK;
  const auto& md = ctx.client_metadata();
  auto it = md.find("authorization");
  if (it != md.end() && BearerMatches(std::string(it->second.data(), it->second.size()), token)) {
    return grpc::Status::OK;
  }
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "missing or wrong bearer token");
}

StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const std::string& cert_path, const std::string& key_path) {
  if (cert_path.empty() && key_path.empty()) return grpc::InsecureServerCredentials();
  if (cert_path.empty() || key_path.empty()) {
    return Status::InvalidArgument("--tls-cert and --tls-key go together");
  }
  GS_ASSIGN_OR_RETURN(std::string cert, ReadPemFile(cert_path));
  GS_ASSIGN_OR_RETURN(std::string key, ReadPemFile(key_path));
  grpc::SslServerCredentialsOptions opts;
  opts.pem_key_cert_pairs.push_back({key, cert});
  return grpc::SslServerCredentials(opts);
}

StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const std::string& ca_path) {
  if (ca_path.empty()) return grpc::InsecureChannelCredentials();
  GS_ASSIGN_OR_RETURN(std::string ca, ReadPemFile(ca_path));
  grpc::SslCredentialsOptions opts;
  opts.pem_root_certs = ca;
  return grpc::SslCredentials(opts);
}

}  // namespace gs
