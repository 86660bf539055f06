// Loops that must stay loops: an empty asm statement in the body keeps the compiler from
// turning them into calls to strlen, memcpy, memset or memcmp (own_string.cpp, whose own
// loops would become calls to themselves; the constructor, whose code stays on the pages it
// touches anyway).
#pragma once

#define KASHIM_NO_LIBC_IDIOM asm volatile("" ::: "memory")
