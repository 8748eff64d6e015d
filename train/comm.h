// The processes of one data-parallel training job: MPI ranks under mpirun (a QKV_MPI build), else one process.
#pragma once

#include <cstdint>
#include <memory>

namespace qkv {

class Comm {
 public:
  virtual ~Comm() = default;
  virtual int rank() const { return 0; }
  virtual int size() const { return 1; }
  virtual int local_size() const { return 1; }  // ranks on this machine, to share its cores
  // In place, the element-wise sum over all ranks.
  virtual void allreduce_sum(float* /*values*/, int64_t /*n*/) {}
  virtual void allreduce_sum(double* /*values*/, int64_t /*n*/) {}
  // In place, rank 0's values to every rank.
  virtual void broadcast(float* /*values*/, int64_t /*n*/) {}
  // Ends every rank of the job with this exit code (a rank that stops alone would leave the others waiting).
  virtual void abort(int /*code*/) {}
  // A collective call that waits longer than this for the other ranks ends the job (a rank died or hangs).
  virtual void set_timeout(double /*seconds*/) {}

  bool root() const { return rank() == 0; }
  // True on every rank when `flag` is true on any rank.
  bool any(bool flag) {
    double v = flag ? 1.0 : 0.0;
    allreduce_sum(&v, 1);
    return v > 0.0;
  }
};

// MPI's world when this binary has MPI and was started by an MPI launcher (which sets its rank variables),
// else a single process. MPI is finalized when the returned object is destroyed.
std::unique_ptr<Comm> make_comm(int* argc, char*** argv);

// The started-by-mpirun test: Open MPI's, PMIx's or PMI's rank variables are set.
bool started_by_mpi_launcher();

}  // namespace qkv
