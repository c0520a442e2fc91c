#define _GNU_SOURCE
#include "CLinuxDescriptors.h"
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/close_range.h>

int estuary_accept_cloexec(int fd, void *address, unsigned int *length, int nonblocking) {
    return accept4(fd, (struct sockaddr *)address, (socklen_t *)length, SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0));
}

int estuary_spawn_close_from(void *actions, int lowest) {
    return posix_spawn_file_actions_addclosefrom_np((posix_spawn_file_actions_t *)actions, lowest);
}

int estuary_spawn_new_session_flag(void) { return POSIX_SPAWN_SETSID; }

int estuary_open_pseudo_terminal(char *slave_path, unsigned long size) {
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) return -1;
    int error = 0;
    if (grantpt(master) != 0 || unlockpt(master) != 0) {
        error = errno;
    } else {
        error = ptsname_r(master, slave_path, size);
    }
    if (error != 0) {
        close(master);
        errno = error;
        return -1;
    }
    return master;
}

int estuary_close_on_exec_from(int lowest) {
    return close_range((unsigned int)lowest, ~0U, CLOSE_RANGE_CLOEXEC);
}

int estuary_pidfd_open(int pid) {
    return (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
}
