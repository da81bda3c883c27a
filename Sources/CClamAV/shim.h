#ifndef SIGCTL_CCLAMAV_SHIM_H
#define SIGCTL_CCLAMAV_SHIM_H

#include <clamav.h>
#include <libfreshclam.h>

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

#endif
