/* kith followup, kith due, kith tag (being written) */
#include "cli/cmds.h"
