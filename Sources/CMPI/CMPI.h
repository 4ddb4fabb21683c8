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

/// Writes the world ranks that share this rank's node (its shared memory), in order, into `out` (room for
/// `capacity`), and returns how many there are, or -1 when MPI cannot say. A collective call: every rank of the world
/// must make it.
static inline int triad_mpi_node_ranks(int *out, int capacity) {
    MPI_Comm node;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) != MPI_SUCCESS) return -1;
    int size = 0;
    MPI_Comm_size(node, &size);
    MPI_Group nodeGroup, worldGroup;
    MPI_Comm_group(node, &nodeGroup);
    MPI_Comm_group(MPI_COMM_WORLD, &worldGroup);
    int count = size < capacity ? size : capacity;
    int result = count;
    for (int index = 0; index < count; index++) {
        if (MPI_Group_translate_ranks(nodeGroup, 1, &index, worldGroup, &out[index]) != MPI_SUCCESS) result = -1;
    }
    MPI_Group_free(&nodeGroup);
    MPI_Group_free(&worldGroup);
    MPI_Comm_free(&node);
    return result;
}

#endif
