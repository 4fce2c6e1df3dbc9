# Sourced by the scripts that compile kernel objects (top= set by them).
# CCACHE_BASEDIR: every tree keeps the same layout under build/, so the
# trees share objects. Depend mode: a miss compiles once instead of
# preprocessing first to hash (kbuild passes -Wp,-MMD, which is what the
# mode needs); about a fifth off a kernel built with an empty cache, hits
# as in direct mode.
export CCACHE_BASEDIR=$top/build
export CCACHE_DEPEND=true
