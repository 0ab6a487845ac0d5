/* Questions about paths on disk. */
#ifndef VS_IO_PATH_H
#define VS_IO_PATH_H

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when path names a regular file (following links), else 0. */
int vs_is_file(const char *path);

#ifdef __cplusplus
}
#endif

#endif
