// tftpd: serves files from a root directory over TFTP, configured by flags
// (`tftpd --help`; `--flagfile=FILE` reads them from a file). It is the
// framework's stock program: RunTftpd with the default FileHandler.
#include "server/daemon/tftpd_runner.h"

int main(int argc, char** argv) { return tftpd::RunTftpd(argc, argv); }
