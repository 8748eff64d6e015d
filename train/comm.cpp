#include "train/comm.h"

#include <cstdlib>

namespace qkv {

#ifdef QKV_MPI
std::unique_ptr<Comm> make_mpi_comm(int* argc, char*** argv);  // train/comm_mpi.cpp
#endif

bool started_by_mpi_launcher() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(v) != nullptr) return true;
  return false;
}

std::unique_ptr<Comm> make_comm([[maybe_unused]] int* argc, [[maybe_unused]] char*** argv) {
#ifdef QKV_MPI
  if (started_by_mpi_launcher()) return make_mpi_comm(argc, argv);
#endif
  return std::make_unique<Comm>();
}

}  // namespace qkv
