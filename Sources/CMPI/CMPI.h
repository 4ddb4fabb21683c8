// Open MPI for Swift: mpi.h, plus small inline functions for what Swift cannot see in it. Handles such as
// MPI_COMM_WORLD and MPI_BYTE are cast macros in Open MPI (pointers to library globals), and MPI_STATUS_IGNORE is a
// null pointer cast; each becomes a function here. Every symbol starts with `triad_mpi_`.
#ifndef TRIAD_CMPI_H
#define TRIAD_CMPI_H

#include <mpi.h>

static inline MPI_Comm triad_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype triad_mpi_byte(void) { return MPI_BYTE; }
static inline int triad_mpi_any_source(void) { return MPI_ANY_SOURCE; }
static inline int triad_mpi_any_tag(void) { return MPI_ANY_TAG; }
static inline MPI_Status *triad_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline MPI_Request triad_mpi_request_null(void) { return MPI_REQUEST_NULL; }
static inline int triad_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
static inline int triad_mpi_max_processor_name(void) { return MPI_MAX_PROCESSOR_NAME; }
static inline int triad_mpi_success(void) { return MPI_SUCCESS; }

#endif
