// The MPI communicator (built with -DQKV_MPI=ON). Collectives are nonblocking calls polled against a deadline,
// so that a rank that died or hangs ends the job with a message instead of leaving the others waiting.
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "core/error.h"
#include "train/comm.h"

namespace qkv {
namespace {

class MpiComm : public Comm {
 public:
  MpiComm(int* argc, char*** argv) {
    int provided = 0;
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);  // only the main thread calls MPI
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &local_size_);
    MPI_Comm_free(&node);
  }
  ~MpiComm() override { MPI_Finalize(); }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_size() const override { return local_size_; }

  void allreduce_sum(float* v, int64_t n) override { allreduce(v, n, MPI_FLOAT); }
  void allreduce_sum(double* v, int64_t n) override { allreduce(v, n, MPI_DOUBLE); }

  void broadcast(float* v, int64_t n) override {
    for (int64_t at = 0; at < n; at += kMaxCount) {
      MPI_Request req;
      MPI_Ibcast(v + at, count(n - at), MPI_FLOAT, 0, MPI_COMM_WORLD, &req);
      wait(req, "broadcast");
    }
  }

  void abort(int code) override { MPI_Abort(MPI_COMM_WORLD, code); }
  void set_timeout(double seconds) override { timeout_s_ = seconds; }

 private:
  static constexpr int64_t kMaxCount = int64_t{1} << 30;  // MPI counts are int
  static int count(int64_t left) { return static_cast<int>(left < kMaxCount ? left : kMaxCount); }

  template <class T>
  void allreduce(T* v, int64_t n, MPI_Datatype type) {
    for (int64_t at = 0; at < n; at += kMaxCount) {
      MPI_Request req;
      MPI_Iallreduce(MPI_IN_PLACE, v + at, count(n - at), type, MPI_SUM, MPI_COMM_WORLD, &req);
      wait(req, "allreduce");
    }
  }

  // Polls so that a missing rank is noticed. A nonblocking collective advances only inside MPI calls, so the
  // polls spin for the first second (a step's collectives finish well within it); a rank still waiting after
  // that (another rank writes a checkpoint) sleeps between polls and leaves its core to the others.
  void wait(MPI_Request& req, const char* what) {
    auto start = std::chrono::steady_clock::now();
    double waited = 0.0;
    for (int64_t polls = 0;; ++polls) {
      int done = 0;
      MPI_Test(&req, &done, MPI_STATUS_IGNORE);
      if (done) return;
      if (waited > 1.0) std::this_thread::sleep_for(std::chrono::microseconds(200));
      if ((polls & 255) == 0) {
        waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (waited > timeout_s_) {
          std::fprintf(stderr,
                       "qkv: error: rank %d waited %.0f s in %s for the other ranks (train.comm_timeout): one of "
                       "them died or hangs; ending the job\n",
                       rank_, waited, what);
          std::fflush(stderr);
          MPI_Abort(MPI_COMM_WORLD, 3);
        }
      }
    }
  }

  int rank_ = 0, size_ = 1, local_size_ = 1;
  double timeout_s_ = 600.0;
};

}  // namespace

std::unique_ptr<Comm> make_mpi_comm(int* argc, char*** argv) { return std::make_unique<MpiComm>(argc, argv); }

}  // namespace qkv
