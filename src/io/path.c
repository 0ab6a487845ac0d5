#include "io/path.h"

#include <sys/stat.h>

int vs_is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}
