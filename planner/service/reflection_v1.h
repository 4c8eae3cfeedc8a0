// grpc.reflection.v1.ServerReflection: server reflection under the package
// newer clients ask for first (grpcurl, grpcui, Postman, grpcio-reflection).
// gRPC 1.51 serves only grpc.reflection.v1alpha; this answers the same five
// questions from the descriptors compiled into the planner, with the same
// protocol (proto/grpc/reflection/v1/reflection.proto): one answer per
// request on one stream, and a question that cannot be answered gets an
// ErrorResponse (NOT_FOUND, or UNIMPLEMENTED for an empty request) while the
// stream goes on. Needs no token, like health checking (docs/security.md).
//
// Thread-safe: the service list is fixed at construction; each stream keeps
// its own record of the files it has sent.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "google/protobuf/descriptor.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "planner/service/access.h"

namespace galvatron::planner {

// The access rule name of the one method (planner/service/access.h).
inline constexpr char kReflectionV1Method[] =
    "grpc.reflection.v1.ServerReflection/ServerReflectionInfo";

class ReflectionV1Service final : public ::grpc::reflection::v1::ServerReflection::Service,
                                  public GuardedService {
 public:
  // `services`: the fully qualified names list_services answers with.
  explicit ReflectionV1Service(std::vector<std::string> services);

  grpc::Status ServerReflectionInfo(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<::grpc::reflection::v1::ServerReflectionResponse,
                               ::grpc::reflection::v1::ServerReflectionRequest>* stream) override;

  // The answer to one request; `sent` holds the names of the files this
  // stream has sent so far (an imported file goes out once per stream; the
  // file asked for, every time).
  ::grpc::reflection::v1::ServerReflectionResponse Answer(
      const ::grpc::reflection::v1::ServerReflectionRequest& request,
      std::set<std::string>* sent) const;

 private:
  // `file` (when `asked`, or when not in `sent`) and the files it imports,
  // transitively, that are not in `sent`.
  static void AddFile(const google::protobuf::FileDescriptor* file, std::set<std::string>* sent,
                      ::grpc::reflection::v1::FileDescriptorResponse* out, bool asked);

  const google::protobuf::DescriptorPool* pool_;
  std::vector<std::string> services_;
};

}  // namespace galvatron::planner
