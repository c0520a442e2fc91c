#ifndef ESTUARY_CLINUXDESCRIPTORS_H
#define ESTUARY_CLINUXDESCRIPTORS_H
/* Close-on-exec descriptors and clean child processes: glibc calls that Swift's Glibc module
   leaves out (they are declared only under _GNU_SOURCE). Plain types only, so this header
   claims no system type from the Glibc module. */

/* accept(2) whose new descriptor is close-on-exec (and non-blocking when `nonblocking`) from
   the start: no window in which a concurrent fork-exec could inherit it. `address` is a
   struct sockaddr * (or NULL), `length` a socklen_t * (or NULL). */
int estuary_accept_cloexec(int fd, void *address, unsigned int *length, int nonblocking);

/* A posix_spawn file action (`actions` is a posix_spawn_file_actions_t *): close every
   descriptor from `lowest` up in the child (glibc 2.34+), so the child gets only the
   descriptors the other actions set up. 0 or an error number. */
int estuary_spawn_close_from(void *actions, int lowest);

/* A descriptor (always close-on-exec) that becomes readable when process `pid` exits, for
   waiting on a child's end with poll(2) instead of sleeping (Linux 5.3+); -1 and errno. */
int estuary_pidfd_open(int pid);

/* POSIX_SPAWN_SETSID: the child starts a new session (glibc 2.26+). */
int estuary_spawn_new_session_flag(void);

/* A new pseudo-terminal: returns its master side (close-on-exec, not this process's
   controlling terminal), granted and unlocked, and writes its slave side's path into
   `slave_path` (`size` bytes). -1 and errno on failure. */
int estuary_open_pseudo_terminal(char *slave_path, unsigned long size);

/* Sets close-on-exec on every open descriptor from `lowest` up, in one call
   (close_range(2) with CLOSE_RANGE_CLOEXEC, Linux 5.11+): for descriptors a library opened
   without the flag and without a hook to ask for it. 0, or -1 and errno. */
int estuary_close_on_exec_from(int lowest);
#endif
