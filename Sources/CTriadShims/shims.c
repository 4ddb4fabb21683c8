#include "CTriadShims.h"
