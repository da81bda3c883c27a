#ifndef SIGCTL_CCLAMAV_SHIM_H
#define SIGCTL_CCLAMAV_SHIM_H

#include <clamav.h>
#include <libfreshclam.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <zlib.h>

/* Composite macros and flag sets that Swift's importer does not bring in. */
static const unsigned int SIGCTL_CL_DB_STDOPT = CL_DB_STDOPT;
static const unsigned int SIGCTL_CL_DB_PHISHING = CL_DB_PHISHING;
static const unsigned int SIGCTL_CL_DB_PHISHING_URLS = CL_DB_PHISHING_URLS;
static const unsigned int SIGCTL_CL_DB_BYTECODE = CL_DB_BYTECODE;
static const unsigned int SIGCTL_CL_DB_BYTECODE_UNSIGNED = CL_DB_BYTECODE_UNSIGNED;
static const unsigned int SIGCTL_CL_DB_PUA = CL_DB_PUA;
static const unsigned int SIGCTL_CL_DB_OFFICIAL_ONLY = CL_DB_OFFICIAL_ONLY;
static const unsigned int SIGCTL_CL_DB_DIRECTORY = CL_DB_DIRECTORY;
static const unsigned int SIGCTL_CL_INIT_DEFAULT = CL_INIT_DEFAULT;
/* What libclamav adds itself when it loads the files inside a CVD/CLD (signed,
 * official) or a CUD (unsigned): the delta scan loads such files one by one. */
static const unsigned int SIGCTL_CL_DB_OFFICIAL = CL_DB_OFFICIAL;
static const unsigned int SIGCTL_CL_DB_SIGNED = CL_DB_SIGNED;
static const unsigned int SIGCTL_CL_DB_UNSIGNED = CL_DB_UNSIGNED;

/* prctl is variadic. The clamav children (verification, libfreshclam) ask the
 * kernel to kill them when the sigctl process that started them dies. */
static inline int sigctl_die_with_parent(void) {
    return prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/* pidfd_open has no glibc wrapper in Debian 12 and syscall() is variadic: a pidfd
 * becomes readable when the process exits, even when it is not our child. */
static inline int sigctl_pidfd_open(pid_t pid) {
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* inflateInit2 is a macro. explain seeks inside a gzip-compressed .cvd from access
 * points kept in its name index: raw inflate from a point, gzip framing to build them. */
static inline int sigctl_inflate_init_raw(z_stream *stream) {
    return inflateInit2(stream, -15);
}
static inline int sigctl_inflate_init_gzip(z_stream *stream) {
    return inflateInit2(stream, 16 + 15);
}

#endif
