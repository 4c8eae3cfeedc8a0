#include "planner/service/reflection_v1.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.pb.h"

namespace galvatron::planner {

namespace rv1 = ::grpc::reflection::v1;

namespace {

void SetError(absl::StatusCode code, std::string message, rv1::ServerReflectionResponse* out) {
  out->mutable_error_response()->set_error_code(static_cast<int>(code));
  out->mutable_error_response()->set_error_message(std::move(message));
}

}  // namespace

ReflectionV1Service::ReflectionV1Service(std::vector<std::string> services)
    : pool_(google::protobuf::DescriptorPool::generated_pool()), services_(std::move(services)) {}

grpc::Status ReflectionV1Service::ServerReflectionInfo(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<rv1::ServerReflectionResponse, rv1::ServerReflectionRequest>* stream) {
  return Handle(context, kReflectionV1Method, [&](const Principal&) -> absl::Status {
    std::set<std::string> sent;
    rv1::ServerReflectionRequest request;
    while (stream->Read(&request)) {
      if (!stream->Write(Answer(request, &sent))) break;  // the client went away
    }
    return absl::OkStatus();
  });
}

rv1::ServerReflectionResponse ReflectionV1Service::Answer(
    const rv1::ServerReflectionRequest& request, std::set<std::string>* sent) const {
  rv1::ServerReflectionResponse out;
  out.set_valid_host(request.host());
  *out.mutable_original_request() = request;
  switch (request.message_request_case()) {
    case rv1::ServerReflectionRequest::kListServices:
      for (const std::string& name : services_) {
        out.mutable_list_services_response()->add_service()->set_name(name);
      }
      break;
    case rv1::ServerReflectionRequest::kFileByFilename: {
      const auto* file = pool_->FindFileByName(request.file_by_filename());
      if (file == nullptr) {
        SetError(absl::StatusCode::kNotFound,
                 absl::StrCat("file \"", request.file_by_filename(), "\" not found"), &out);
        break;
      }
      AddFile(file, sent, out.mutable_file_descriptor_response(), true);
      break;
    }
    case rv1::ServerReflectionRequest::kFileContainingSymbol: {
      const auto* file = pool_->FindFileContainingSymbol(request.file_containing_symbol());
      if (file == nullptr) {
        SetError(absl::StatusCode::kNotFound,
                 absl::StrCat("symbol \"", request.file_containing_symbol(), "\" not found"), &out);
        break;
      }
      AddFile(file, sent, out.mutable_file_descriptor_response(), true);
      break;
    }
    case rv1::ServerReflectionRequest::kFileContainingExtension: {
      const rv1::ExtensionRequest& asked = request.file_containing_extension();
      const auto* type = pool_->FindMessageTypeByName(asked.containing_type());
      if (type == nullptr) {
        SetError(absl::StatusCode::kNotFound,
                 absl::StrCat("message type \"", asked.containing_type(), "\" not found"), &out);
        break;
      }
      const auto* extension = pool_->FindExtensionByNumber(type, asked.extension_number());
      if (extension == nullptr) {
        SetError(absl::StatusCode::kNotFound,
                 absl::StrCat("extension ", asked.extension_number(), " of \"",
                              asked.containing_type(), "\" not found"),
                 &out);
        break;
      }
      AddFile(extension->file(), sent, out.mutable_file_descriptor_response(), true);
      break;
    }
    case rv1::ServerReflectionRequest::kAllExtensionNumbersOfType: {
      const auto* type = pool_->FindMessageTypeByName(request.all_extension_numbers_of_type());
      if (type == nullptr) {
        SetError(absl::StatusCode::kNotFound,
                 absl::StrCat("message type \"", request.all_extension_numbers_of_type(),
                              "\" not found"),
                 &out);
        break;
      }
      std::vector<const google::protobuf::FieldDescriptor*> extensions;
      pool_->FindAllExtensions(type, &extensions);
      auto* numbers = out.mutable_all_extension_numbers_response();
      numbers->set_base_type_name(type->full_name());
      for (const auto* extension : extensions) numbers->add_extension_number(extension->number());
      break;
    }
    case rv1::ServerReflectionRequest::MESSAGE_REQUEST_NOT_SET:
      SetError(absl::StatusCode::kUnimplemented, "the request asks nothing", &out);
      break;
  }
  return out;
}

void ReflectionV1Service::AddFile(const google::protobuf::FileDescriptor* file,
                                  std::set<std::string>* sent, rv1::FileDescriptorResponse* out,
                                  bool asked) {
  // The file asked for goes out every time; an import only once per stream.
  if (!sent->insert(file->name()).second && !asked) return;
  google::protobuf::FileDescriptorProto proto;
  file->CopyTo(&proto);
  out->add_file_descriptor_proto(proto.SerializeAsString());
  for (int i = 0; i < file->dependency_count(); ++i) AddFile(file->dependency(i), sent, out, false);
}

}  // namespace galvatron::planner
