/* importer.c — contacts from other tools' files, merged into the store (being
 * written) */
#include "core/importer.h"
