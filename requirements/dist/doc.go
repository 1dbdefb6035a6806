// Package dist reads what Python distributions say about themselves
// without running them: wheel and sdist file names, core metadata, and
// the compatibility tags that decide which wheel an interpreter may
// install.
//
// Wheel file names (PEP 427, PEP 491, packaging.utils.parse_wheel_filename):
//
//   - {name}-{version}(-{build})?-{python}-{abi}-{platform}.whl, exactly
//     four or five dash-separated parts before ".whl".
//   - The name is word characters, "." and "_", never "__"; it is
//     normalized (PEP 503) in WheelName.Name.
//   - The version is a PEP 440 version; the optional build tag starts with
//     a digit (number, then a free suffix) and orders wheels of one version.
//   - Each tag part may be a compressed set joined by "." (PEP 425:
//     "py2.py3-none-any"), expanded into Tags; ParseTag can require each
//     set to be sorted as PEP 425 asks of builders.
//
// Sdist file names: {name}-{version}.tar.gz or .zip, the version after the
// last dash.
//
// Core metadata (METADATA in a wheel's .dist-info, PKG-INFO in an sdist):
// versions 1.0 to 2.4 (PEP 241, 314, 345, 566, 643, 685, 639), RFC 822
// style fields with continuation lines and the description as the body;
// UTF-8 only; Metadata-Version, Name and Version required; Requires-Dist
// kept as written and parsed on demand with package requirements (PEP
// 508); Dynamic (PEP 643) may not name Name or Version.
//
// Compatibility tags (PEP 425, PEP 600 manylinux, PEP 656 musllinux,
// legacy manylinux1/2010/2014 aliases): SupportedTags computes in Go,
// from TagFacts read once from an interpreter (ProbeTagFacts, or
// TagFactsScript run by the caller), the ordered list
// packaging.tags.sys_tags() yields; TagSet ranks a wheel's tags against it
// so the best wheel can be chosen, as pip does.
package dist
