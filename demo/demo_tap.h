/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the demo programs print: a TAP line per step, so that each run is
 * both a demonstration and a check.
 */
#ifndef DEMO_TAP_H
#define DEMO_TAP_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int step, failed;

static void tap(bool ok, const char *what)
{
	printf("%sok %d - %s\n", ok ? "" : "not ", ++step, what);
	if (!ok)
		failed++;
}

/* A step that could not be done ends the run */
static void die(const char *what)
{
	printf("not ok %d - %s: %s\n", ++step, what, strerror(errno));
	printf("1..%d\n", step);
	exit(1);
}

#endif
