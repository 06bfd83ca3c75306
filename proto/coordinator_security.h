// Bearer tokens and TLS material for the coordinator and the HTTP gateway:
// reading them from files and checking what a caller presents.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "kernels/status.h"

namespace gs {

// The token in `path`, surrounding whitespace removed; an empty file is an
// error (it would let everybody in).
StatusOr<std::string> ReadTokenFile(const std::string& path);
// The whole file (PEM certificates and keys).
StatusOr<std::string> ReadPemFile(const std::string& path);

// True when `header` is "Bearer <token>". An empty `token` means no
// authentication was asked for: everything passes. Compares in constant time.
bool BearerMatches(const std::string& header, const std::string& token);

// Checks the "authorization" metadata of a gRPC call; UNAUTHENTICATED
// (and nothing else) when it does not match.
grpc::Status CheckBearer(const grpc::ServerContext& ctx, const std::string& token);

// TLS server credentials from PEM files, or insecure ones when both are "".
StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const std::string& cert_path, const std::string& key_path);
// TLS channel credentials trusting `ca_path` (PEM), or insecure ones when "".
StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const std::string& ca_path);

}  // namespace gs
