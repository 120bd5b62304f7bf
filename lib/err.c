#include <stdarg.h>
#include <stdio.h>

#include "xf.h"

/*
 * Fill e with a formatted message; returns -1 so callers can "return
 * xf_errf(...)".  Messages quote names and strings from hostile input, so
 * control bytes become '?': an error is always one line.
 */
int
xf_errf(struct xf_err *e, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	for (char *p = e->msg; *p != 0; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return -1;
}
