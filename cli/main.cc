// The slipway executable: everything lives in the libraries.
#include "cli/commands.h"

int main(int argc, char** argv) { return slipway::cli::Main(argc, argv); }
