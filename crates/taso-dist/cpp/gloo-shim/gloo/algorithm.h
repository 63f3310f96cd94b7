// taso gloo-shim: stand-in for Gloo's header of the same name (see ../README.md).
// ProcessGroupGloo.hpp includes it but uses nothing from it.
#pragma once
