// One communication group as the collectives see it: its global ranks, this
// process's place in it, and the c10d process group that talks to the others.
// The ParallelContext owns every CommGroup of a worker; collectives and
// layers only borrow them, so a context must outlive every autograd graph
// built with its groups (backward passes run collectives on them).
//
// Immutable after construction; c10d process groups are themselves
// thread-safe, but collectives must be issued in the same order on every
// member, so in practice one thread issues them.
#pragma once

#include <string>
#include <vector>

#include "agent/runtime/comm/torch_compat.h"

namespace galvatron::runtime {

struct CommGroup {
  std::vector<int> ranks;  // global ranks, ascending
  int rank = 0;            // this process's index in `ranks`
  // Null for a group of one: every collective returns early without it.
  // (A c10d backend: Gloo or NCCL; torch_compat.h says why not the 2.x
  // ProcessGroup wrapper.)
  c10::intrusive_ptr<torch_compat::Backend> process_group;

  int size() const { return static_cast<int>(ranks.size()); }
  // "[0,2,4]": for error messages and logs.
  std::string Describe() const;
};

}  // namespace galvatron::runtime
