#include "ws/ws_client.h"
