// The floor under an MPI executor's round trip: rank 0 sends a message of the size of a tiny job's, rank 1 answers
// with one of the size of its result, with blocking MPI_Send and MPI_Recv (a busy wait in Open MPI). Prints the
// median round trip of 15 batches of 20,000. Run by cluster_peer.py raw; with the argument `init` it only starts
// and ends MPI, for cluster_peer.py startup.
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    // `init` only starts and ends MPI: the floor under any MPI program's start-up.
    if (argc > 1 && strcmp(argv[1], "init") == 0) {
        MPI_Finalize();
        return 0;
    }
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    int request = argc > 1 ? atoi(argv[1]) : 120;
    int reply = argc > 2 ? atoi(argv[2]) : 80;
    char *buffer = calloc(1, request > reply ? request : reply);
    enum { batches = 15, rounds = 20000 };
    double times[batches];
    for (int warm = 0; warm < 2000; warm++) {
        if (rank == 0) {
            MPI_Send(buffer, request, MPI_BYTE, 1, 0, MPI_COMM_WORLD);
            MPI_Recv(buffer, reply, MPI_BYTE, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        } else {
            MPI_Recv(buffer, request, MPI_BYTE, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            MPI_Send(buffer, reply, MPI_BYTE, 0, 0, MPI_COMM_WORLD);
        }
    }
    for (int batch = 0; batch < batches; batch++) {
        double start = MPI_Wtime();
        for (int round = 0; round < rounds; round++) {
            if (rank == 0) {
                MPI_Send(buffer, request, MPI_BYTE, 1, 0, MPI_COMM_WORLD);
                MPI_Recv(buffer, reply, MPI_BYTE, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            } else {
                MPI_Recv(buffer, request, MPI_BYTE, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                MPI_Send(buffer, reply, MPI_BYTE, 0, 0, MPI_COMM_WORLD);
            }
        }
        times[batch] = (MPI_Wtime() - start) / rounds;
    }
    if (rank == 0) {
        qsort(times, batches, sizeof(double), compare);
        printf("raw MPI round trip %d B out, %d B back: median_us=%.3f min_us=%.3f\n", request, reply,
               times[batches / 2] * 1e6, times[0] * 1e6);
    }
    free(buffer);
    MPI_Finalize();
    return 0;
}
