#include "planner/service/model_manager.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/model_catalog.h"
#include "common/model_validation.h"
#include "common/rpc_status.h"
#include "common/status_macros.h"
#include "planner/service/resource_rows.h"
#include "spdlog/spdlog.h"

namespace galvatron::planner {

using store::Table;

absl::StatusOr<v1::ModelSpec> ModelManager::Submit(v1::ModelSpec spec, std::string owner) {
  RETURN_IF_ERROR(ValidateModelSpec(spec));
  if (CatalogModel(spec.name())) {
    return absl::AlreadyExistsError(
        absl::StrCat("name: \"", spec.name(),
                     "\" is a built-in catalog model; submit the spec under another name"));
  }
  // Output-only fields are the store's to set.
  spec.clear_version();
  spec.clear_created_at();
  spec.clear_builtin();
  spec.set_owner(std::move(owner));
  store::NewRow row;
  row.key = spec.name();
  row.id_prefix = absl::StrCat(spec.name(), "@");
  row.payload = DeterministicBytes(spec);
  ASSIGN_OR_RETURN(store::Row stored, store_->Append(Table::kModels, row));
  spdlog::info("model {} version {} stored{}", spec.name(), stored.version,
               spec.owner().empty() ? "" : absl::StrCat(" for ", spec.owner()));
  return DecodeRow<v1::ModelSpec>(Table::kModels, stored);
}

absl::StatusOr<v1::ModelSpec> ModelManager::Get(const std::string& name, int64_t version) {
  RETURN_IF_ERROR(ValidateName("name", name));
  if (version < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("version: ", version, ", must be >= 0 (0 = latest)"));
  }
  ASSIGN_OR_RETURN(auto row, store_->Get(Table::kModels, name, version));
  if (row) return DecodeRow<v1::ModelSpec>(Table::kModels, *row);
  if (auto builtin = CatalogModel(name)) {
    if (version == 0) return *builtin;
    return absl::NotFoundError(absl::StrCat("model \"", name,
                                            "\" is a built-in catalog model without version ",
                                            version, "; ask for version 0"));
  }
  if (version != 0) {
    ASSIGN_OR_RETURN(auto latest, store_->Get(Table::kModels, name, 0));
    if (latest) {
      return absl::NotFoundError(absl::StrCat("model \"", name, "\" version ", version,
                                              " not found (latest is ", latest->version, ")"));
    }
  }
  return absl::NotFoundError(absl::StrCat("model \"", name, "\" not found"));
}

absl::StatusOr<v1::ListModelsResponse> ModelManager::List(const v1::ListModelsRequest& request) {
  v1::ListModelsResponse response;
  std::string next;
  ASSIGN_OR_RETURN(std::vector<v1::ModelSpec> stored,
                   ListPage<v1::ModelSpec>(
                       store_, Table::kModels, store::ListOptions{}, request.page_token(),
                       request.page_size(), [](const v1::ModelSpec&) { return true; }, &next));
  if (!request.include_builtin()) {
    for (auto& m : stored) *response.add_models() = std::move(m);
    response.set_next_page_token(next);
    // Said on every page, so that a client that sees no models knows why.
    response.set_builtin_models_omitted(static_cast<int32_t>(CatalogModelNames().size()));
    return response;
  }
  // Merge the catalog into the stored page by name. A catalog model belongs
  // to this page if it sorts after the page start and, when another page
  // follows, before the page's last stored name.
  std::string after;
  int64_t unused = 0;
  RETURN_IF_ERROR(DecodePageToken(request.page_token(), &after, &unused));
  ASSIGN_OR_RETURN(int size, ResolvePageSize(request.page_size()));
  const std::string page_end = next.empty() ? "" : stored.back().name();
  std::vector<v1::ModelSpec> merged = std::move(stored);
  for (const std::string& name : CatalogModelNames()) {
    if (name <= after) continue;
    if (!page_end.empty() && name > page_end) continue;
    merged.push_back(*CatalogModel(name));
  }
  std::sort(merged.begin(), merged.end(),
            [](const v1::ModelSpec& a, const v1::ModelSpec& b) { return a.name() < b.name(); });
  bool more = !next.empty();
  if (static_cast<int>(merged.size()) > size) {
    merged.resize(size);
    more = true;
  }
  PageBytes bytes;
  for (size_t i = 0; i < merged.size(); ++i) {
    if (!bytes.Add(merged[i])) {
      merged.resize(i);
      more = true;
      break;
    }
  }
  for (auto& m : merged) *response.add_models() = std::move(m);
  if (more) {
    const std::string& last = response.models(response.models_size() - 1).name();
    // Past every version of `last`: list positions are (key, version).
    response.set_next_page_token(EncodePageToken(last, INT64_MAX));
  }
  return response;
}

absl::StatusOr<int64_t> ModelManager::Delete(const std::string& name) {
  RETURN_IF_ERROR(ValidateName("name", name));
  ASSIGN_OR_RETURN(int64_t deleted, store_->Delete(Table::kModels, name));
  if (deleted == 0) {
    if (CatalogModel(name)) {
      return absl::FailedPreconditionError(
          absl::StrCat("model \"", name, "\" is a built-in catalog model and cannot be deleted"));
    }
    return absl::NotFoundError(absl::StrCat("model \"", name, "\" not found"));
  }
  spdlog::info("model {} deleted ({} versions)", name, deleted);
  return deleted;
}

absl::Status ModelManager::MayChange(const Principal& who, const std::string& name) {
  if (who.role == Role::kAdmin) return absl::OkStatus();
  RETURN_IF_ERROR(ValidateName("name", name));
  ASSIGN_OR_RETURN(auto row, store_->Get(Table::kModels, name, 0));
  if (!row) return absl::OkStatus();  // a new name: anyone may claim it
  ASSIGN_OR_RETURN(v1::ModelSpec latest, DecodeRow<v1::ModelSpec>(Table::kModels, *row));
  return CheckOwner(who, latest.owner(), absl::StrCat("model \"", name, "\""));
}

grpc::Status ModelManager::SubmitModel(grpc::ServerContext* context,
                                       const v1::SubmitModelRequest* request,
                                       v1::ModelSpec* response) {
  return Handle(context, "ModelService/SubmitModel", [&](const Principal& who) -> absl::Status {
    RETURN_IF_ERROR(MayChange(who, request->spec().name()));
    return Fill(Submit(request->spec(), who.name), response);
  });
}

grpc::Status ModelManager::GetModel(grpc::ServerContext* context,
                                    const v1::GetModelRequest* request, v1::ModelSpec* response) {
  return Handle(context, "ModelService/GetModel", [&](const Principal&) {
    return Fill(Get(request->name(), request->version()), response);
  });
}

grpc::Status ModelManager::ListModels(grpc::ServerContext* context,
                                      const v1::ListModelsRequest* request,
                                      v1::ListModelsResponse* response) {
  return Handle(context, "ModelService/ListModels",
                [&](const Principal&) { return Fill(List(*request), response); });
}

grpc::Status ModelManager::DeleteModel(grpc::ServerContext* context,
                                       const v1::DeleteModelRequest* request,
                                       v1::DeleteModelResponse* response) {
  return Handle(context, "ModelService/DeleteModel", [&](const Principal& who) -> absl::Status {
    RETURN_IF_ERROR(MayChange(who, request->name()));
    ASSIGN_OR_RETURN(int64_t deleted, Delete(request->name()));
    response->set_versions_deleted(deleted);
    return absl::OkStatus();
  });
}

}  // namespace galvatron::planner
