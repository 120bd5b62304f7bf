#include <stdarg.h>
#include <stdio.h>

#include "xf.h"

/* Fill e with a formatted message; returns -1 so callers can "return xf_errf(...)". */
int
xf_errf(struct xf_err *e, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return -1;
}
