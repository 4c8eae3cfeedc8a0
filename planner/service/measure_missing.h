// MeasurePolicy decides what a plan for a model on a cluster still needs
// measured, and starts (or finds) the tasks measuring it (MeasureMissing;
// RequestPlan asks it before planning from measured profiles).
//
// Policy: the cluster's hardware profile is missing -> a probe of every
// alive node, unless a probe of the cluster is in flight. Layer types of the
// model without a compute profile on the cluster -> one profile task of the
// model on the least loaded alive node, unless an in-flight profile task's
// model has every missing layer type. With no alive node nothing is started
// (alive_nodes = 0 tells the caller to estimate instead). Finding an
// in-flight task and creating one is a single step on the board, so two
// plan requests at once start one task, not two.
//
// Thread model: thread-safe; no state of its own. It reads the profile
// managers and the node manager with no lock held; TaskFactory does the
// rest.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "galvatron/v1/task.pb.h"
#include "planner/service/compute_profile_manager.h"
#include "planner/service/hardware_profile_manager.h"
#include "planner/service/node_manager.h"
#include "planner/service/task_factory.h"

namespace galvatron::planner {

class MeasurePolicy {
 public:
  MeasurePolicy(TaskFactory* factory, NodeManager* nodes, HardwareProfileManager* hardware,
                ComputeProfileManager* compute)
      : factory_(factory), nodes_(nodes), hardware_(hardware), compute_(compute) {}

  // What `model` on `cluster` lacks and the tasks measuring it; `reason` is
  // added to the tasks' reasons (who asked).
  absl::StatusOr<v1::MeasureMissingResponse> MeasureMissing(const v1::ModelSpec& model,
                                                            const std::string& cluster,
                                                            const std::string& reason);

 private:
  TaskFactory* const factory_;
  NodeManager* const nodes_;
  HardwareProfileManager* const hardware_;
  ComputeProfileManager* const compute_;
};

}  // namespace galvatron::planner
