"""Load side modules into a running Pyodide, through the runtime's own loader (browser only).

``js`` and ``pyodide`` are imported inside functions, so this module imports on plain CPython
(the core never calls it there).

Where the time goes (measured 2026-11, Chromium 14x headless, Pyodide 314.0.7, grill-usd-core
26.8: 30 side modules, 105 MB, one 27 MB ``libusd_ms.so`` NEEDed by 29 extensions; numbers
from several runs of ``tests/browser/test_shared_libraries.py::test_grill_usd_core_timing``
and the experiment it came from):

=====================================================  ===========
Pyodide's own path: ``_api.loadDynlib`` one by one       5.4-5.6 s
  of which ``WebAssembly.compile`` (all 30)              0.5-0.9 s
  of which instantiation (``WebAssembly.Instance``)     ~0.8 s
  of which the rest (JS-side linking)                    ~4-6.7 s
compiling all 30 concurrently (``Promise.all``)          0.53 s   (sequential: 0.53 s)
fast path (below), NEEDED exports copied (before)        2.6-3.0 s
fast path + all modules precompiled concurrently first   2.7-3.4 s (no gain: dropped)
fast path, NEEDED exports read in place (point 1)        1.8-2.1 s
  + immutable globals from the sections (point 4)        1.6-1.9 s
  + dlopen lent a stand-in (point 5)                     1.6-2.1 s   (A/B: -0.4 s)
  + next modules compiled while one links (point 6)      1.5-1.8 s   (A/B: -0.2 s)
  + NEEDED libraries registered, not opened (point 5)    dlopen step 0.06 -> 0.04 s
  + modules read from the files' own bytes (point 1)     (A/B: -0.05 s)
  + dlopen's copies of the files not made (point 7)      dlopen step 0.04 -> 0.006 s
                                                         (A/B: -0.09 s)
  + modules compiled as files are written (point 8)      (A/B, WAN: -0.13 s)
  + the offset table's walk only when needed (point 9)   symbols step 0.045 -> 0.009 s
  + its first walk while the wheels download (point 9)   (c), WAN: load 25 -> 22 ms
all of it, in the benchmark runs                         1.1-1.2 s
=====================================================  ===========

(The machine's speed drifted by about 30% between these sessions; compare within an A/B.)
Compiling up front, with the runtime then compiling the same bytes again, buys nothing
(V8 compiles lazily, in background threads already); what point 6 gains is the runtime's
wait for each compile, by handing it the module compiled while the one before linked. The
rest is Emscripten's dynamic linking in JS: after *every* library it runs
``reportUndefinedSymbols``, a walk over every entry of the global offset table (169,679
entries once grill-usd-core is in; 8,834 before, in a fresh page). That is quadratic in the
size of a wheel.

A precompiled ``WebAssembly.Module`` cannot be handed to the runtime either: Emscripten's
``loadWebAssemblyModule`` instantiates a Module with the synchronous
``new WebAssembly.Instance``, which Chromium refuses on the main thread above 8 MB
("WebAssembly.Instance is disallowed on the main thread, if the buffer size is larger than
8MB") - and ``preloadedWasm`` holds instantiated exports, not compiled modules. Point 6
hands a compiled module over inside the asynchronous ``WebAssembly.instantiate`` instead.

The fast path (Pyodide 314, where it was measured and tested), using only what the runtime
exports and patching no code in it (it rewrites one byte of a module for as long as the
runtime takes to read its dylink section, point 1, wraps three WebAssembly built-ins while its modules instantiate, point
4 and point 9, lends ``dlopen`` a stand-in for a library's exports, point 5, has modules compiled
ahead, point 6, and, while it opens libraries, wraps the runtime's ``dlopen`` entry point
so that its C side does not copy the files, point 7). It relies on internals of that runtime's Emscripten, which the 314 line
keeps (its one platform tag names one Emscripten version): ``loadWebAssemblyModule``
reads the local scope only by key, and ``getDylinkMetadata`` skips subsection types it
does not know (checked on each module before relying on it):

1. for each library, dependencies first: ``Module.loadWebAssemblyModule(bytes, {loadAsync,
   nodelete, allowUndefined}, path, scope)`` - the runtime's own instantiation (async, so any
   size works); the exports go into ``Module.preloadedWasm[path]``, exactly where
   Emscripten's own preload plugin puts them and where ``dlopen`` looks first.
   NEEDED without copies: for a library loaded RTLD_LOCAL the runtime resolves each NEEDED
   name (``findLibraryFS`` through RUNTIME_PATH) and then *copies* every export of that
   library into the new one's local scope (``Object.assign``). grill-usd-core's 29
   extensions each NEED the 27 MB ``libusd_ms.so`` (45,183 exports): 29 copies, 0.77 s of
   self time in the copying alone (A/B on the same page: load 4.33 -> 2.07 s) and 47 MB of
   heap kept alive by the lazy symbol stubs that hold the scopes.
   When every NEEDED library is already instantiated (always, in a planned batch), this
   path resolves the names with the runtime's own ``findLibraryFS`` and hands the runtime a
   scope that *reads* those exports where they are (a Proxy over them, the last NEEDED
   winning, as with the copies), and marks the NEEDED subsection of the module as a type
   the runtime's reader skips, so it does not copy them again. The module's bytes are the
   file's own (MEMFS holds each file in one array): the mark is set back as soon as the
   runtime has read the section, before anything else runs (the compiled module ignores
   custom sections, and a copy of 105 MB for grill-usd-core is spared: A/B, ``ab.py``, (b)
   on loopback, 6 pairs, load 1.23 -> 1.18 s). Symbol
   resolution is unchanged: the runtime looks in the global table, then in the scope, then
   in the module's own exports (the GOT never looks at the scope). The NEEDED libraries are
   then registered in ``LDSO`` by step 3 (point 5) instead of during the runtime's NEEDED
   processing, the same way. When a NEEDED library is not instantiated yet, or the
   runtime's reader would still see the NEEDED list, the module is handed over as it is
   and the runtime finds and loads the library itself;
2. one walk over the global offset table for the whole batch (what Emscripten does for a
   main module's libraries at startup; Pyodide <= 0.27 loaded with ``allowUndefined`` too):
   the runtime's ``reportUndefinedSymbols`` done here, with the same steps in the same
   order (through ``Module.GOT``, ``resolveGlobalSymbol`` and ``addFunction``), but with
   ``for ... in`` instead of ``Object.entries``, which makes a ``[name, entry]`` array for
   each of the 169,679 entries: in the page, 0.11 s against 0.04 s for the walk alone.
   A/B (``benchmarks/ab.py``, (b) on loopback, 5 pairs): load 1.44 -> 1.37 s, peak heap
   126 -> 112 MB;
3. ``pyodide._api.loadDynlib(path)`` for each library that no module instantiated in step 1
   NEEDs (those are registered without it, point 5): the runtime's ``dlopen``, which finds
   the preloaded exports (lent a stand-in, point 5) and records the handle, so a later
   ``import`` finds the library open;
4. immutable globals known from the module itself. After instantiating a module the runtime
   relocates its exports, and it tells an immutable global (a data address, to which it adds
   the module's memory base) from a mutable one by assigning it its own value and catching
   the TypeError (``isImmutableGlobal``). grill-usd-core exports 57,462 globals, and each
   refusal builds a new TypeError (about 5 us in this Chromium, with or without stack
   traces): 0.3 s. While step 1 runs, this path reads each module's import, global and
   export sections (``_IMMUTABLE_GLOBALS_JS``), wraps ``WebAssembly.instantiate`` so that
   the globals those sections declare immutable are noted as the instance is made (and
   only for the very byte arrays step 1 handed over), and wraps the ``value`` setter of
   ``WebAssembly.Global`` so that it refuses exactly those at once, with one prepared
   TypeError; every other global is set by the engine's own setter. The engine's answer
   for the first and the last noted global of each module must agree, or nothing is noted
   for that module; sections the reader does not follow (any type, flag or layout it does
   not know), or built-ins that cannot be wrapped, leave the module to the runtime as it is.
   The built-ins (with point 9's) are restored when the last overlapping load is done. A/B
   (``benchmarks/ab.py``, (b) on loopback, 5 pairs): load 2.11 -> 1.87 s, install 2.77 ->
   2.58 s. The tests compare the reading with the engine's answer for every exported global
   of every module they load. The reader gives the globals' places among the exports, not
   their names: decoding the names of grill-usd-core's export sections was 80 of the
   reading's 100 ms (in Node, all 30 modules: 100 -> 19 ms), and the instance's exports
   object lists its properties in export order, unless a name is an array index (then the
   module is not read). A/B (``ab.py``, (b) on loopback, 6 pairs): load 1.29 -> 1.24 s.

5. exports lent back after ``dlopen``. For a library opened RTLD_LOCAL, the runtime's
   ``dlopen`` (``loadDynamicLibrary``) copies every export of the preloaded library into a
   fresh local scope (``Object.assign``) and then drops that scope: nothing reads it, the
   symbols were resolved when the module was instantiated. For grill-usd-core that copied
   ``libusd_ms.so``'s 45,183 exports, ``_vt.so``'s and the others' again: 0.2 to 0.45 s of
   the ``dlopen`` step, and the garbage. So for each library the step puts an empty stand-in
   in ``preloadedWasm``, opens the library, and then puts the exports back, both in
   ``preloadedWasm`` and in the DSO the runtime made (``dso.exports``, which ``dlsym`` reads
   when Python imports the extension); every DSO found holding a stand-in gets the exports
   it stands for, and so does a NEEDED lookup of point 1 or a second stand-in from an
   overlapping load. Known window: Pyodide's ``loadDynlib`` first waits for its own lock, so
   while another ``loadDynlib`` holds it (another install's step 3,
   ``pyodide.loadPackage``), the stand-in sits in ``preloadedWasm``; an ``import`` of that
   very extension in that time (before the install that loads it has returned) fails with an
   ImportError, and works once the install is done. A/B (``benchmarks/ab.py``, (b) on
   loopback, 5 pairs): ``dlopen`` 0.37-0.5 -> 0.06-0.28 s, load 2.56 -> 2.13 s, peak heap
   136 -> 126 MB. The tests check that no library the runtime holds is left with empty
   exports. A library that another module of the batch NEEDs (``libusd_ms.so``) is not
   opened at all: ``Module.loadDynamicLibrary(path, {global: false, nodelete: true,
   loadAsync: true})`` registers it in ``LDSO``, leaving the entry the runtime's own NEEDED
   processing leaves (local, no handle, a refcount of Infinity; the runtime would also have
   copied the exports into the NEEDing module's scope, which point 1 replaces). The C side
   of ``dlopen`` reads the whole file into the interpreter's memory and never frees it
   (Emscripten's ``load_library_start``: 27 MB for ``libusd_ms.so``, 15 to 20 ms), for a
   handle nothing asks for: Python opens the extensions it imports, not the libraries they
   NEED. Should Python (or ``ctypes``) open one later, the runtime's ``dlopen`` finds it in
   ``LDSO`` as it would after its own NEEDED processing. ``dlopen`` step: 0.055-0.07 ->
   0.04 s.

6. the next modules compile while this one links. ``WebAssembly.instantiate(bytes)``
   compiles off the main thread, but the runtime instantiates one module after the other, so
   the main thread waited for each compile in turn (about 0.3 s of idle time in a profile of
   grill-usd-core's load) and the second core waited for the linking. Step 1 now keeps
   ``WebAssembly.compile`` going for up to four modules at a time, in load order (the
   current one and the ones after it), while the current one links, and the wrapped
   ``WebAssembly.instantiate`` of point 4, when handed the very byte array a module was
   compiled from, instantiates that module and answers ``{module, instance}`` as
   ``instantiate(bytes)`` does (the runtime's ``postInstantiation`` does not read the
   module; the NEEDED subsection hidden by point 1 after compiling is a custom section,
   which compiling ignores). A compile that fails leaves the bytes to ``instantiate`` as
   before, so the runtime reports the error as it would; where the built-ins cannot be
   wrapped nothing compiles ahead. ``timings['compiled_ahead']`` counts the modules made
   this way. A/B (``ab.py``, (b) on loopback, 5 pairs each): load 1.98 -> 1.77 s with two
   ahead, 1.67 -> 1.54 s with four against two; more than four gave nothing more (1.64 ->
   1.62 s); (c) unchanged. This is what the compiling up front in the table above
   missed: compiled modules that the runtime is not handed save nothing, it compiles its
   bytes again. Between one library and the next, step 1 gives the event loop one turn (a
   ``MessageChannel`` message): the libraries' links are otherwise one chain of promise
   continuations, one task of about a second for grill-usd-core, in which the page draws
   nothing (the per-library ``loading`` events could not move a progress bar) and the
   engine's compiles cannot take their steps on this thread (``_vt.so`` waited 35-111 ms
   for its compile at its turn). Measured with ``ab.py`` (2026-12-06): (b) on loopback,
   8 pairs, install 1.582 -> 1.582 s (load 0.931 -> 0.924); on the WAN, 6 pairs, 2.931 ->
   2.957 s (load 0.541 -> 0.543); (c) 0.094 -> 0.094 s: no faster, no slower; kept for the
   page.

7. the file copies dlopen would keep, not made. The C side of the runtime's ``dlopen``
   (Emscripten's ``load_library_start``) reads the whole file into the interpreter's memory
   (``struct dso``'s ``file_data``, for other threads to load it from; the runtime's
   ``loadLibData`` reads it at ``handle + 28`` and its size at ``handle + 32``) and never
   frees it; the preloaded exports of step 1 make it unused, and this runtime has no
   threads. It finds the size with ``lseek(fd, 0, SEEK_END)``, which MEMFS answers from the
   node's ``usedBytes``, all inside the synchronous ``Module._emscripten_dlopen_promise``
   that Pyodide's ``loadDynlib`` calls. So while step 3 runs, that entry point is wrapped:
   for the length of the call, and only for a MEMFS file step 3 is opening whose exports
   ``preloadedWasm`` holds under the very name the runtime will look up (so the runtime
   never wants the bytes), the node shows 0 bytes (set back before the call returns,
   whatever happens); the C side then allocates an empty copy and reads nothing. There is
   one wrapper per runtime however many loads overlap, and the runtime's own function is
   put back when the last one is done (never over someone else's wrapper). Afterwards,
   for each handle step 3 made, the copy is freed and both fields set to 0: an empty one
   where the C side saw the file empty (a read of 0 bytes cannot fail), a whole one where
   its size there is the file's (the file could not be hidden); anything else is not the
   layout read, and stays. For grill-usd-core: 80 MB not copied
   (``timings['file_reads_skipped']``, counted from what the C side holds), the memory
   micropip's and Pyodide's own loads keep; in a CPU profile of the load the reading was
   0.21 s. A/B (``ab.py``, (b) on loopback, 6 pairs): load 1.26 -> 1.17 s, ``dlopen`` step
   0.04 -> 0.006 s. (Freeing the whole copies instead, the change before, gave the memory
   back but not the time.)

8. modules compiled as their files are written. Point 6 compiles a few modules ahead
   while others link, but only once the load has begun, after the last byte of the wheel
   and the commit. :class:`~pyemscripten.browser.MemfsFileOps` (``compile_libraries``, set
   by the session where this loader will take the modules) starts
   ``WebAssembly.compile`` for every shared library as it writes the file, while the rest
   of the wheel still downloads, and notes the module by the file's MEMFS node. Point 6's
   compiling ahead takes a noted module (where the built-ins could be wrapped) instead of
   compiling the bytes again, when nothing has written to the file since: the same byte
   array, size, ``mtime`` and ``ctime``. The writer stamps both times one tick before now
   when it makes the file; MEMFS sets both to now on every write (a ``utime`` sets the
   ``mtime`` only), and a write that grows or truncates the file replaces the array, so a
   later write is seen even within the same tick. A runtime whose MEMFS keeps no such times
   (0.27: ``timestamp``) gets nothing compiled on write. The modules nobody took (a library
   already loaded from that path, a staging folder dropped) are let go when the install is
   over (``FileOps.release``). ``timings['compiled_on_write']`` counts the noted modules
   taken (a compile that failed included: the runtime then compiles the bytes and reports
   the error). A/B (``ab.py``, (b), 5 pairs): on the WAN, load 1.48 -> 1.35 s, install
   4.15 -> 3.99 s (the link is the bound while the modules compile); on loopback, load
   1.66 -> 1.32 s but the download 0.69 -> 0.79 s (the compiling competes with inflating
   for the two cores), install 2.36 -> 2.34 s.

9. the walk of point 2 only when something can be left for it. The runtime marks an entry
   of the global offset table undefined with -1, and it makes such an entry in one place
   only: its GOT handler, when a module imports an address that has no entry yet. A later
   module's exports define it (``updateGOT`` sets every entry still at -1); the walk is for
   the rest (a weak symbol nothing defines is set to 0, a symbol only the runtime's own
   imports hold is resolved, a missing one is reported). So the step notes the entries
   undefined when the load begins (one walk over the table as it is then: 8,834 entries in
   a fresh page), and while the modules instantiate, ``WebAssembly.Global`` is wrapped (with
   the built-ins of point 4, restored with them) to note every global made with -1. When
   all of those are defined once the batch is in, no entry is at -1 and the walk would do
   nothing: it is skipped. Otherwise it runs as before, over the whole table.
   ``timings['undefined_walk']`` says whether it ran; the tests have a full walk confirm
   each skip (``walk_misses``). For grill-usd-core the walk over 169,679 entries was
   0.045 s of the ``symbols`` step, now 0.009 s (checking the noted globals), plus the
   walk at the start over the 8,834 entries of a fresh page (in the ``instantiate`` step);
   in a page whose table is large already, that first walk costs what the skipped one
   did, less what the batch adds. jiter and luau-wasm skip it too; an extension taking
   the address of a weak symbol does not. (Point 4's wrapped ``value`` setter notes every
   global set to the number -1 as well. One theoretical difference is left: an entry
   ``updateGOT`` copies from an exported global whose value is -1 would stay -1 where the
   walk would set it to 0, until a load that walks finds it. Side modules from
   clang/wasm-ld export no such global.)
   An install takes that first walk while its wheels still download
   (:meth:`PyodideLibraryLoader.prepare`, when its plan has a platform wheel), and the
   built-ins stay wrapped from then on, so that every entry made undefined after the walk
   is noted too; its load takes the walk over (``timings['walked_ahead']``), and one that
   no load takes over is let go with the built-ins (``release``). In (c) on the WAN that
   takes the walk, 2.6-2.7 ms, out of the tail after the last byte: ``ab.py``, 12 pairs,
   install 0.216 -> 0.212 s, load 25 -> 22 ms (with the loader's script made into a
   function once per page rather than at each load, 0.4 ms).

10. libraries instantiated while the wheels download, linked after the hash. Of (b)'s load
   after the last byte, 42-58 % was the engine's instantiation (RESULTS.md, stop 41), while
   the page's thread sat idle for most of the download. Instantiating is not linking: the
   engine writes the module's data and element segments into the space the runtime reserved
   for it and runs its start function; nothing else of the module runs, and the runtime's
   import object binds its functions through stubs resolved at their first call. So
   :meth:`PyodideLibraryLoader.prepare` opens a batch, and each library file the writer
   compiles (point 8) is offered to it. When the page is idle (``requestIdleCallback``; on
   loopback the inflating keeps it busy, and the load does the work as before; where there
   is no such call, in a worker, no batch opens) the batch takes the next one, and the ones
   after it while that idle period lasts (a callback asked for from within one runs only
   in the next, up to 50 ms later: one library a period left 13 of (b)'s 30 to the load):

   * :func:`~pyemscripten.instantiation.instantiation_writes` must prove, from the file's
     own bytes (unchanged since they were compiled: point 8's test), that instantiating it
     writes only inside the memory and table slots its ``dylink.0`` reserves, and the
     runtime must read the very sizes proved (from the bytes it is handed, NEEDED hidden as
     in point 1). Bytes not verified yet may cost no more than their size: a library asking
     for more memory than its file has bytes (the alignment the runtime adds included), or
     more table slots than a 64th of them, is left to the load (here: at most 0.19 and
     1/667). The runtime is handed only the module's header and ``dylink.0`` section, all it
     reads; should anything but the wrapper below instantiate those, that makes an empty
     module, none of this one's code or data, and the instance is let go;
   * the runtime's own ``loadWebAssemblyModule`` reserves the memory and slots, and the
     wrapped ``WebAssembly.instantiate`` (point 4) instantiates the compiled module there,
     refusing a memory base of 0 (the runtime does not check its ``calloc``). It gives the
     module offset-table entries of the batch's own instead of the runtime's GOT handler's:
     that handler puts an undefined entry marked ``required`` into the runtime's table,
     and any other load in the page meanwhile would report it undefined. The instance is
     held: the runtime's linking (``postInstantiation``) waits for the load to open it;
   * the load (after the commit, so after every hash) takes the instance made for each
     library's file, in its order: it reads the NEEDED libraries as point 1 does, now from
     the installed paths, and joins the batch's entries with the runtime's table as the
     handler would have made them (an entry another load has since defined gives the value
     it holds for good; one it made and left undefined cannot be joined, and then the
     instance is let go and the library loaded as before). Then it opens the instance and
     the runtime links it as always (an entry it joined that is still undefined then
     makes point 9 walk). ``timings['instantiated_early']`` counts them;
   * what no load takes (an install that failed, its hash included, a file no load wanted)
     is let go when the load or the install is over: the runtime's load of it fails, its
     table slots are emptied and, where the runtime's aligned base is the pointer its
     ``calloc`` gave (an alignment of at most 8, which every allocator keeps), its memory
     freed; otherwise the memory stays reserved, as the runtime leaves it after a load that
     fails. A cancelled install's batch is closed the same way. Walks and batches belong to
     the loader whose ``prepare`` took them: another install's ``release`` leaves them.

   Known limits (speed only: what is let go is loaded as before). A file written goes to the
   batch opened last, which may be an overlapping install's: when that one ends first, it
   lets the instance go. Two overlapping installs through one loader (a session's own) share
   its walks. The next file of an idle period is taken once the previous instance settles,
   if the period's deadline leaves more than 4 ms: other tasks may have run meanwhile (the
   deadline is not cut short by them), so up to the rest of that period (at most 50 ms) of
   instantiating can delay them.

   A/B (``ab.py``): (b) on the WAN, 5 pairs, load 0.99 -> 0.62 s, install 3.45 -> 3.03 s (peak
   heap 108 -> 121 MB: the instances live earlier; several a period, 6 pairs: install 3.149
   -> 3.047 s, load 0.721 -> 0.613 s); on loopback, 8 pairs, 1.680 -> 1.686 s;
   (a) and (c) within noise (0.835 -> 0.846 s and 0.099 -> 0.103 s on loopback, 2.64 -> 2.63 s
   and 0.215 -> 0.220 s on the WAN). The proof reads all 30 of (b)'s modules natively in
   0.08 s.

11. unrelated libraries keep their own symbols. The runtime has one global offset table
   for the page: the first library to define a name (a data address, or a function's table
   slot: what a module reaches through ``GOT.mem`` and ``GOT.func``) defines it for every
   library loaded after, even one opened ``RTLD_LOCAL`` that defines the name itself or
   NEEDs a library that does. mypy 2.4.1 broke on it (a real wheel, found in stop 48): its
   compiled modules and those of ``librt``, a dependency loaded first, each define
   ``mypyc_interned_str`` and three other mypyc data symbols, and ``import mypy.api`` read
   librt's interned strings (``TypeError: attribute name must be string``; micropip's order
   happened to load mypy's first). Natively a library opened ``RTLD_LOCAL`` looks in the
   global scope, then in itself, then in its NEEDED libraries. So, as a module instantiates
   (in the wrapped ``WebAssembly.instantiate``, compiling it there if nothing was compiled
   ahead; or when the load joins an early instance's entries, point 10), a name it imports
   through the table that the table already holds, not from the runtime or a global library
   (the runtime's ``resolveGlobalSymbol`` does not find it), not thread-local and not
   C++'s, gets an entry of its own: with the module's own definition where it defines the
   name (filled before the runtime's linking applies its data relocations), else with the
   first of its NEEDED libraries' that defines it, where that differs from the table's. An
   early instance bound to the batch's entry for a name that must become a NEEDED library's
   is let go (the load then does it). ``timings['kept_own']`` counts the entries (0 in the
   benchmark's scenarios). Left as the runtime has them: C++ names (``_Z...``), which stay
   one definition for all, the first library's (a conservative choice: natively unrelated
   libraries would not share vtables either, but C++ type identity across the libraries of
   one wheel, grill-usd-core's, relies on it); NEEDED libraries of NEEDED libraries (only
   the module's own NEEDED list is searched); libraries loaded outside a planned batch
   (a later ``dlopen`` or ``ctypes``, or a NEEDED library the runtime loads itself); and
   the sequential path. A/B (``ab.py``, (b) on loopback, 6 pairs, against the loader before
   point 11): install 1.457 -> 1.415 s, load 0.835 -> 0.817 s (within noise); its first
   version, 8 pairs: 1.613 -> 1.601 s; (c) 0.091 -> 0.093 s; (b) on the WAN, 5 pairs, 2.890
   -> 2.917 s.

Other runtimes (0.27.7, 0.27.8, 0.29.5, 315.0.0a2) take the sequential path: ``loadDynlib`` one
library at a time with the signature that runtime has (0.27: ``(path, global, searchDirs)``;
0.28 on: ``(path)``).

Known runtime limitation (not worked around: it would mean re-keying the runtime's tables):
Pyodide 0.29.5 (Emscripten 4.0.9) keys a library by the unnormalised path its RUNTIME_PATH
search built (``.../pkg_a/../x.libs/libx.so``), so a library reached from two folders loads
twice, with two copies of its state. 314 normalises the name first and loads it once.
"""

from __future__ import annotations

import functools
import itertools
import posixpath
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from pyemscripten.dylink import imports_symbol
from pyemscripten.errors import DylinkError, LibraryLoadError, LibraryNeedsEvalError
from pyemscripten.instantiation import instantiation_writes
from pyemscripten.seams import LibraryLoader, LibraryToLoad

_LOADERS = itertools.count(1)

# Runtimes whose internals the fast path was verified against (Pyodide major versions).
FAST_PATH_MAJORS = frozenset({"314"})

# An unsigned LEB128 number read from `bytes` at `at` (both the enclosing function's), moving
# `at` past it.
_LEB128_JS = r"""const leb = () => {
    let value = 0, scale = 1, byte;
    do { byte = bytes[at++]; value += (byte & 127) * scale; scale *= 128; } while (byte & 128);
    return value;
  };"""

# Which exported globals a module declares immutable, read from its import, global and export
# sections (WebAssembly core spec, binary format 5.5): their places among the module's exports,
# ``{at: [ascending export indexes], count: exports}``, or null for a layout this reader does not
# follow (the caller then leaves the module to the runtime as it is). Places, not names: an
# instance's exports object has one property per export, in export order (JS API, "create an
# exports object"), so walking it finds them, where decoding every name of a 45,000-export
# section took most of the reading. Except that property order puts array-index keys first:
# a module exporting such a name ("7") is not read.
_IMMUTABLE_GLOBALS_JS = r"""
(bytes) => {
  let at = 8;
  """ + _LEB128_JS + r"""
  const skipLeb = () => { while (bytes[at++] & 128); };
  // Value and reference types this reader knows (false for any other: the caller gives up):
  // numbers, v128, the abstract reference shorthands, and (ref null? heaptype) with an
  // abstract heap type or a type index; not the shared (0x65) heap types.
  const abstract = (t) => t >= 0x69 && t <= 0x74;
  const valueType = () => {
    const t = bytes[at++];
    if ((t >= 0x7b && t <= 0x7f) || abstract(t)) return true;
    if (t !== 0x63 && t !== 0x64) return false;
    const h = bytes[at];
    if (abstract(h)) { at++; return true; }
    if (h < 0x40 || h & 0x80) { skipLeb(); return true; }
    return false;
  };
  // Limits: flags (max, shared, 64-bit, custom page size), min, max, page size.
  const limits = () => {
    const flags = bytes[at++];
    if (flags & ~0x0f) return false;
    skipLeb();
    if (flags & 1) skipLeb();
    if (flags & 8) skipLeb();
    return true;
  };
  const mutability = () => { const m = bytes[at++]; return m === 0 || m === 1 ? m === 1 : null; };
  // A constant expression, up to its `end`: consts, global.get, ref.null/func, add/sub/mul.
  const constant = (limit) => {
    while (at < limit) {
      const op = bytes[at++];
      if (op === 0x0b) return true;
      if (op === 0x41 || op === 0x42 || op === 0x23 || op === 0xd2 || op === 0xd0) skipLeb();
      else if (op === 0x43) at += 4;
      else if (op === 0x44) at += 8;
      else if (!((op >= 0x6a && op <= 0x6c) || (op >= 0x7c && op <= 0x7e))) return false;
    }
    return false;
  };
  const mutable = [];  // by global index: imported globals first, then defined ones
  while (at < bytes.length) {
    const id = bytes[at++];
    const end = leb() + at;
    if (end > bytes.length) return null;
    if (id === 2) {
      for (let n = leb(); n--;) {
        if (at >= end) return null;
        for (let name = 0; name < 2; name++) { const length = leb(); at += length; }  // module, field
        const kind = bytes[at++];
        if (kind === 0) skipLeb();
        else if (kind === 1) { if (!valueType() || !limits()) return null; }
        else if (kind === 2) { if (!limits()) return null; }
        else if (kind === 3) {
          if (!valueType()) return null;
          const m = mutability();
          if (m === null) return null;
          mutable.push(m);
        } else if (kind === 4) { if (bytes[at++] !== 0) return null; skipLeb(); }
        else return null;
      }
      if (at !== end) return null;
    } else if (id === 6) {
      for (let n = leb(); n--;) {
        if (at >= end || !valueType()) return null;
        const m = mutability();
        if (m === null || !constant(end)) return null;
        mutable.push(m);
      }
      if (at !== end) return null;
    } else if (id === 7) {
      const places = [];
      const count = leb();
      for (let n = 0; n < count; n++) {
        if (at >= end) return null;
        const length = leb();
        const first = bytes[at];
        // An array index: 0, or 1-9 followed by digits (a longer all-digit name may be one).
        if (length > 0 && first >= 0x30 && first <= 0x39) {
          let digits = true;
          for (let k = at + 1; k < at + length; k++) if (bytes[k] < 0x30 || bytes[k] > 0x39) { digits = false; break; }
          if (digits && (first !== 0x30 || length === 1)) return null;
        }
        at += length;
        const kind = bytes[at++];
        const index = leb();
        if (kind === 3) {
          if (index >= mutable.length) return null;
          if (!mutable[index]) places.push(n);
        }
      }
      return at === end ? {at: places, count} : null;
    } else if (id === 10 || id === 11) {
      break;  // code or data: the export section would have come before
    }
    at = end;
  }
  return {at: [], count: 0};
}
"""

_FAST_LOAD_JS = r"""
async (pyodide, paths, verify, step, prove, owner, onLoaded) => {
  const M = pyodide._module;
  // Progress: never a reason for the load to fail (a listener's error is the caller's, and a
  // caller that gave up has destroyed the callback).
  const told = (n) => { try { if (onLoaded) onLoaded(n); } catch (e) {} };
  const hasOwn = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
  // Stand-ins lent to dlopen (point 5), and the exports each stands for, across overlapping loads.
  const lent = globalThis[Symbol.for("pyemscripten.lentExports")] ??= new WeakMap();
  // Modules compiled as their files were written (point 8), by MEMFS node.
  const onWrite = globalThis[Symbol.for("pyemscripten.compiledOnWrite")] ??= new WeakMap();
  const immutableGlobals = """ + _IMMUTABLE_GLOBALS_JS + r""";
  // Point 4 (docstring): while modules instantiate, WebAssembly.instantiate notes which of
  // their exported globals their own sections declare immutable, and the `value` setter
  // refuses those at once, with one prepared TypeError, instead of each one building its
  // own. Installed once however many loads overlap; restored when the last one is done.
  const immutability = (verify) => {
    const state = globalThis[Symbol.for("pyemscripten.immutableGlobals")] ??=
      {depth: 0, marked: 0, mismatches: 0, ahead: 0, immutable: new WeakSet(), pending: new WeakMap(), early: new WeakMap(),
       compiled: new WeakMap(), own: new WeakMap()};
    state.compiled ??= new WeakMap();  // a state object an earlier version left in this page
    state.early ??= new WeakMap();
    state.own ??= new WeakMap();
    state.ahead ??= 0;
    if (verify) state.verify = true;
    if (state.depth++ > 0) return state;
    const value = Object.getOwnPropertyDescriptor(WebAssembly.Global.prototype, "value");
    const instantiate = WebAssembly.instantiate;
    const Global = WebAssembly.Global;
    // Point 9: every global made with -1, the runtime's mark of an offset-table entry not
    // defined yet (its GOT handler's only use of it), noted while the loads run.
    const created = [];
    function RecordingGlobal(descriptor, initial) {
      if (!new.target) return Reflect.apply(Global, this, arguments);
      const made = Reflect.construct(Global, arguments, new.target);  // a subclass stays one
      if (initial === -1) created.push(made);
      return made;
    }
    RecordingGlobal.prototype = Global.prototype;
    state.created = null;
    state.restore = () => {};
    const refusal = new TypeError("Can't set the value of an immutable global.");
    const refuses = (global) => {
      try {
        value.set.call(global, value.get.call(global));
        return false;
      } catch (e) {
        return true;
      }
    };
    const mark = (exports, found) => {
      const places = found.at;
      const globals = [];
      let k = 0, j = 0;
      for (const name in exports) {
        if (k++ !== places[j]) continue;
        const global = exports[name];
        if (!(global instanceof WebAssembly.Global)) return;
        globals.push(global);
        j++;
      }
      if (k !== found.count || j !== places.length) return;  // not the export order read
      if (state.verify) {  // tests: every exported global, against the engine's own answer
        const said = new Set(places);
        k = 0;
        for (const name in exports) {
          const global = exports[name];
          if (global instanceof WebAssembly.Global && refuses(global) !== said.has(k)) state.mismatches++;
          k++;
        }
      }
      // The engine's own answer for the first and the last must agree.
      if (!globals.length || !refuses(globals[0]) || !refuses(globals[globals.length - 1])) return;
      for (const global of globals) state.immutable.add(global);
      state.marked += globals.length;
    };
    try {  // built-ins that cannot be wrapped (a frozen realm): modules load as before
      Object.defineProperty(WebAssembly.Global.prototype, "value", {...value, set(v) {
        if (state.immutable.has(this)) throw refusal;
        value.set.call(this, v);
        if (v === -1 && state.created) state.created.push(this);  // point 9: made undefined
      }});
      state.restore = () => {
        state.verify = false;
        state.wrapped = false;
        state.created = null;
        if (WebAssembly.Global === RecordingGlobal) WebAssembly.Global = Global;
        WebAssembly.instantiate = instantiate;
        Object.defineProperty(Global.prototype, "value", value);
      };
      WebAssembly.instantiate = function (source, ...rest) {
        const made = (from, imports = rest[0]) => Reflect.apply(instantiate, this, [from, imports, ...rest.slice(1)]);
        // Point 6: a module compiled ahead from these very bytes, made into what
        // instantiate(bytes) gives; the bytes themselves if that compiling failed.
        const ready = state.compiled.get(source);
        state.compiled.delete(source);
        // Point 11: the offset-table entries a module keeps for its own symbols, decided as it instantiates.
        const own = state.own.get(source);
        state.own.delete(source);
        // Point 10: a library instantiated before the wheel's hash is known, with offset-table
        // entries of its own, and handed to the runtime's linking only once its load opens it.
        const early = state.early.get(source);
        if (early) state.early.delete(source);
        // a module to read the exports of, where point 11 needs one and none was compiled ahead
        const compiled = ready ?? (own && !early ? WebAssembly.compile(source).catch(() => null) : null);
        const result = early ? early.instantiate(rest[0], ready, made) : !compiled ? made(source) : compiled.then((module) => {
          if (!module) return made(source);
          if (ready) state.ahead++;
          const kept = own ? own(module, rest[0]) : null;
          return made(module, kept ? kept.imports : rest[0]).then((instance) => {
            if (kept) kept.fill(instance);
            return {module, instance};
          });
        });
        const found = state.pending.get(source);
        state.pending.delete(source);
        const marked = !found ? result : result.then((out) => { mark(out.instance.exports, found); return out; });
        return early ? marked.then((out) => early.gate.then(() => out)) : marked;
      };
      // A frozen namespace refuses the assignments (strict mode: they throw, and the catch below
      // puts back what was set): nothing is wrapped then.
      state.wrapped = WebAssembly.instantiate !== instantiate;
      WebAssembly.Global = RecordingGlobal;
      if (WebAssembly.Global === RecordingGlobal) state.created = created;
    } catch (e) {
      try { state.restore(); } catch (e2) {}
      state.restore = () => {};
    }
    return state;
  };
  // Where the runtime would look for a module's NEEDED libraries (docstring, point 1): the
  // exports of each, in NEEDED order, or null when one is not instantiated yet. Their
  // names go into `neededNames` (point 5).
  const neededNames = new Set();
  const neededExports = (meta, p) => {
    const rpath = {parentLibPath: p, paths: meta.runtimePaths};
    const names = meta.neededDynlibs.map((n) => M.PATH.normalize(M.findLibraryFS(n, rpath) ?? n));
    for (const name of names) neededNames.add(name);
    const found = [];
    for (const name of names) {
      const dso = M.LDSO.loadedLibsByName[name];
      const held = dso ? dso.exports : M.preloadedWasm[name];
      const exports = lent.get(held) ?? held;
      if (!exports || typeof exports !== "object") return null;
      found.push(exports);
    }
    return found;
  };
  // A library's bytes: the file's own (MEMFS keeps a file in one byte array: an Int8Array
  // when one write made it, a Uint8Array when it grew), not a copy of 27 MB for
  // libusd_ms.so; from any other file system, a copy.
  const memfsNode = (p) => {
    try {
      const node = M.FS.lookupPath(p, {follow: true}).node;
      const contents = node.contents;
      if (M.FS.isFile(node.mode) && ArrayBuffer.isView(contents) && contents.BYTES_PER_ELEMENT === 1
          && node.usedBytes > 0 && node.usedBytes <= contents.length) return node;
    } catch (e) {}
    return null;
  };
  const fileBytes = (p) => {
    const node = memfsNode(p);
    if (!node) return M.FS.readFile(p);
    const contents = node.contents;
    return new Uint8Array(contents.buffer, contents.byteOffset, node.usedBytes);
  };
  // Whether nothing has written to a library's file since the writer noted it, compiling it
  // (point 8): the same array, size, mtime and ctime (a write through the file system sets
  // both times, a larger one or a truncation replaces the array).
  const asWritten = (noted, node) => noted.contents === node.contents && noted.size === node.usedBytes
    && noted.mtime === node.mtime && noted.ctime === node.ctime;
  // Point 8: the module compiled from a library's file as it was written, if the file is as
  // written, else null. Taken once.
  const compiledEarly = (p) => {
    const node = memfsNode(p);
    const made = node && onWrite.get(node);
    if (!made) return null;
    onWrite.delete(node);
    if (!asWritten(made, node)) return null;
    onWriteTaken++;
    return made.module;
  };
  // Point 7: while the runtime's dlopen runs its C side (Emscripten's load_library_start,
  // synchronous inside _emscripten_dlopen_promise), each MEMFS file in `files` whose exports
  // are preloaded shows 0 bytes, so the copy it reads is empty; set back before the call
  // returns. One wrapper per runtime however many loads overlap; the runtime's own function
  // is put back when the last one is done.
  const unreadFiles = () => {
    const all = globalThis[Symbol.for("pyemscripten.unreadFiles")] ??= new WeakMap();
    let state = all.get(M);
    if (!state) all.set(M, state = {depth: 0, files: new Map(), wrapped: false, restore: () => {}});
    if (state.depth++ > 0) return state;
    const dlopen = M._emscripten_dlopen_promise;
    if (typeof dlopen !== "function" || typeof M.UTF8ToString !== "function") return state;
    try {
      const ours = M._emscripten_dlopen_promise = function (name, ...rest) {
        const key = M.PATH.normalize(M.UTF8ToString(name));
        const entry = state.files.get(key);
        // only where the runtime will take the preloaded exports, never the file's bytes
        const node = entry && M.preloadedWasm[key] ? entry.node : null;
        const size = node ? node.usedBytes : 0;
        if (node) node.usedBytes = 0;
        try {
          return Reflect.apply(dlopen, this, [name, ...rest]);
        } finally {
          if (node) {
            node.usedBytes = size;
            entry.hidden = true;
          }
        }
      };
      state.wrapped = M._emscripten_dlopen_promise === ours;
      state.restore = () => {
        state.wrapped = false;
        state.restore = () => {};
        if (M._emscripten_dlopen_promise === ours) M._emscripten_dlopen_promise = dlopen;
      };
    } catch (e) {}
    return state;
  };
  // Turn the NEEDED subsection of a module into one of a type the runtime's reader skips:
  // the places changed (to be set back, showNeeded, as soon as the runtime has read the
  // section), or null, and the bytes as they were, if the reader still sees a NEEDED list.
  const hideNeeded = (bytes) => {
    let at = 9;
    """ + _LEB128_JS + r"""
    const size = leb();
    const end = at + size;
    const nameLength = leb();
    at += nameLength;
    const changed = [];
    while (at < end) {
      const type = at++;
      const length = leb();
      if (bytes[type] === 2) {
        bytes[type] = 0x7f;
        changed.push(type);
      }
      at += length;
    }
    let hidden = false;
    try {
      hidden = M.getDylinkMetadata(bytes).neededDynlibs.length === 0;
    } catch (e) {}
    if (!hidden) showNeeded(bytes, changed);
    return hidden ? changed : null;
  };
  const showNeeded = (bytes, changed) => { for (const type of changed) bytes[type] = 2; };
  // A local scope that reads the NEEDED libraries' exports where they are, the last one
  // listed winning as it does when the runtime copies them in order.
  const scopeOver = (sources) => new Proxy({}, {
    get(target, symbol) {
      for (let k = sources.length; k--;) if (hasOwn(sources[k], symbol)) return sources[k][symbol];
      return target[symbol];
    },
  });
  // Point 11 (docstring): whose definition a module gets for a name it imports through the
  // offset table (`kind`: "global" for GOT.mem, "function" for GOT.func), when the table
  // already holds one: null for the table's own (the runtime's or a global library's, a C++
  // name, or the one its library would give anyway), "own" for the module's own export,
  // or else the value of the first of its NEEDED libraries (`needed`: their exports) that
  // defines it. `kinds()`: the module's exports by name, made on first need.
  let keptOwn = 0;
  const ownKinds = (module) => {
    const kinds = new Map();
    for (const e of WebAssembly.Module.exports(module)) kinds.set(e.name, e.kind);
    return kinds;
  };
  const cxx = (name) => name.charCodeAt(0) === 95 && name.charCodeAt(1) === 90;  // "_Z": one definition for all
  const definition = (name, kind, kinds, needed, tls) => {
    if (cxx(name)) return null;  // first: most names of a large C++ library
    const shared = M.GOT[name];
    if (!shared || shared.value == -1 || tls.has(name) || M.resolveGlobalSymbol(name).sym) return null;
    if (kind && kinds().get(name) === kind) return "own";
    for (const s of needed) {
      if (!hasOwn(s, name)) continue;
      const v = s[name];  // relocated: a function, or a global (or number) holding the address
      const value = typeof v === "function" ? M.addFunction(v) : typeof v === "number" ? v : v.value;
      return value === shared.value ? null : {value};
    }
    return null;
  };
  const ownValue = (kind, exports, name, memoryBase) =>
    kind === "global" ? exports[name].value + memoryBase : M.addFunction(exports[name]);
  // The import object a module instantiates with: the runtime's, but for the names point 11
  // gives another definition, entries of its own: a NEEDED library's value at once, its own
  // once it is made (before the runtime's linking applies its data relocations).
  const keepOwn = (module, imports, needed, tls) => {
    const privates = [];
    let kinds = null;
    const mine = () => kinds ??= ownKinds(module);
    const made = new Map();  // name -> entry: one per name however often it is read
    const wrap = (runtime, kind) => new Proxy({}, {get(target, name) {
      if (typeof name !== "string") return runtime[name];
      if (made.has(name)) return made.get(name);
      const found = definition(name, kind, mine, needed, tls);
      if (!found) return runtime[name];
      const entry = new WebAssembly.Global({value: "i32", mutable: true}, found === "own" ? 0 : found.value);
      if (found === "own") privates.push([name, kind, entry]);
      made.set(name, entry);
      keptOwn++;
      return entry;
    }});
    return {
      imports: {...imports, "GOT.mem": wrap(imports["GOT.mem"], "global"), "GOT.func": wrap(imports["GOT.func"], "function")},
      fill: (instance) => {
        for (const [name, kind, entry] of privates) entry.value = ownValue(kind, instance.exports, name, imports.env.__memory_base);
      },
    };
  };
  // Point 10 (docstring): libraries instantiated while the wheels download. A record per
  // library, by its MEMFS node, across overlapping installs: the load that finds the file takes it.
  const earlyRecords = () => globalThis[Symbol.for("pyemscripten.earlyInstances")] ??= new WeakMap();
  const earlyOffers = () => globalThis[Symbol.for("pyemscripten.earlyOffers")] ??= [];
  // made, taken by a load, let go: for the tests
  const earlyStats = globalThis[Symbol.for("pyemscripten.earlyStats")] ??= {made: 0, taken: 0, let_go: 0};
  // A record let go: its instance is never linked (the runtime's load of it fails). Once the engine
  // is done with it, its table slots are emptied, and its memory is freed where the pointer the
  // runtime aligned is the one calloc gave (an alignment of at most 8, which every allocator
  // keeps); otherwise it stays reserved, as the runtime leaves it after a failed load.
  const discard = (rec) => {
    if (rec.discarded) return;
    rec.discarded = true;
    earlyStats.let_go++;
    const records = earlyRecords();
    if (records.get(rec.node) === rec) records.delete(rec.node);
    rec.early.records.delete(rec);
    rec.close(new Error("an instance made before the wheel was verified, let go"));
    rec.settled.then(() => {
      if (!rec.allocated) return;
      try {
        for (let k = 0; k < rec.tableSize; k++) M.wasmTable.set(rec.tableBase + k, null);
        if (rec.memoryBase && rec.memoryAlign <= 3) M._free(rec.memoryBase);
      } catch (e) {}
    });
  };
  const closeEarly = (early) => {
    early.closed = true;
    early.queue.length = 0;
    const offers = earlyOffers();
    const k = offers.indexOf(early);
    if (k >= 0) offers.splice(k, 1);
  };
  // A library, its file just written, instantiated now if `prove` (the package's
  // instantiation.py) vouches for where that writes, and the runtime reads the sizes it proved.
  // The runtime's own loadWebAssemblyModule does it (its memory, table slots, import object),
  // with its NEEDED subsection hidden (point 1) and a scope filled at the link; the wrapped
  // WebAssembly.instantiate gives it offset-table entries of its own and holds the instance.
  const instantiateEarly = (quick, early, node, contents, module) => {
    const noted = onWrite.get(node);
    if (!quick.wrapped || !noted || noted.module !== module || noted.contents !== contents || !asWritten(noted, node)) return null;
    const bytes = new Uint8Array(contents.buffer, contents.byteOffset, node.usedBytes);
    const proved = early.prove(bytes);  // "memorySize,memoryAlign,tableSize,tableAlign", or none
    if (typeof proved !== "string") return null;
    // Bytes not verified yet cost no more than their size: no more memory than the file has
    // bytes (with what the runtime adds for the alignment), no more table slots than a 64th
    // of them (the libraries here: at most 0.19 and 1/667).
    const [memorySize, memoryAlign, tableSize] = proved.split(",").map(Number);
    if ((memorySize && memorySize + 2 ** memoryAlign > bytes.length) || tableSize * 64 > bytes.length) return null;
    // The runtime is handed the module's header and dylink.0 section only, all it reads; the
    // wrapped instantiate takes the module compiled from the whole file. Should anything else
    // instantiate those bytes (the wrapper bypassed), it makes an empty module: nothing of
    // this one runs, and the instance is let go (settled as failed).
    let at = 8;
    """ + _LEB128_JS + r"""
    if (bytes[at++] !== 0) return null;  // not a custom section first: the runtime refuses it too
    const head = bytes.subarray(0, leb() + at);
    const meta = M.getDylinkMetadata(head);
    const hidden = meta.neededDynlibs.length ? hideNeeded(head) : [];
    if (!hidden) return null;
    const rec = {early, node, noted, meta, memorySize, memoryAlign, tableSize, memoryBase: 0, tableBase: 0,
                 allocated: false, got: new Map(), own: new Map(), sources: [], discarded: false};
    try {
      // what the runtime reads, NEEDED hidden (the same as `meta` where nothing was)
      const read = hidden.length ? M.getDylinkMetadata(head) : meta;
      if ([read.memorySize, read.memoryAlign, read.tableSize, read.tableAlign].join() !== proved) return null;
      const weak = read.weakImports;
      // The runtime's GOT handler, but an entry it would make goes into this batch's own
      // table, joined with the runtime's at the link: meanwhile another load's walk would
      // report it undefined.
      rec.overlay = new Proxy({}, {get(target, name) {
        if (typeof name !== "string") return undefined;
        // Point 11: a C name it defines itself (not the runtime's) gets an entry of this
        // record's own, decided when the load joins it (joinOffsets)
        const exported = cxx(name) || read.tlsExports.has(name) || M.resolveGlobalSymbol(name).sym ? null
          : (rec.kinds ??= ownKinds(rec.module)).get(name);
        const kind = exported === "global" || exported === "function" ? exported : null;
        let entry = rec.own.get(name)?.entry ?? (kind ? null : early.privates.get(name) ?? M.GOT[name]);
        if (!entry && !kind) early.privates.set(name, entry = new WebAssembly.Global({value: "i32", mutable: true}, -1));
        if (!entry) rec.own.set(name, {kind, entry: entry = new WebAssembly.Global({value: "i32", mutable: true}, -1)});
        const seen = rec.got.get(name);
        rec.got.set(name, {entry, required: !weak.has(name) || (seen ? seen.required : false)});
        return entry;
      }});
      let settle;
      rec.settled = new Promise((resolve) => { settle = resolve; });
      rec.gate = new Promise((resolve, reject) => { rec.open = resolve; rec.close = reject; });
      rec.gate.catch(() => {});
      rec.instantiate = (info, ready, made) => {
        const env = info && info.env;
        rec.allocated = true;
        rec.memoryBase = env ? env.__memory_base : 0;
        rec.tableBase = env ? env.__table_base : 0;
        // the runtime does not check its calloc: writes relative to 0 would be the interpreter's
        const out = !ready || (rec.memorySize && !rec.memoryBase) ? Promise.reject(new Error("not instantiated early"))
          : ready.then((compiled) => {
            if (!compiled) throw new Error("not compiled");
            rec.module = compiled;
            return made(compiled, {...info, "GOT.mem": rec.overlay, "GOT.func": rec.overlay})
              .then((instance) => { rec.instance = instance; return {module: compiled, instance}; });
          });
        out.then(() => settle(true), () => settle(false));
        return out;
      };
      quick.compiled.set(head, module);
      quick.early.set(head, rec);
      let found = null;
      try { found = immutableGlobals(bytes); } catch (e) {}
      if (found && found.at.length) quick.pending.set(head, found);
      try {
        rec.loading = M.loadWebAssemblyModule(head, {loadAsync: true, nodelete: true, allowUndefined: true},
                                              "(instantiated early)", scopeOver(rec.sources));
      } catch (e) {
        quick.compiled.delete(head);
        quick.early.delete(head);
        quick.pending.delete(head);
        return null;
      }
      // failed before instantiating, or made without the wrapper: not an early instance
      rec.loading.then(() => settle(false), () => settle(false));
    } finally {
      showNeeded(head, hidden);
    }
    earlyRecords().set(node, rec);
    early.records.add(rec);
    earlyStats.made++;
    return rec;
  };
  // A batch's early instantiations: files offered as they are written (browser.py), started one
  // at a time when the page's thread is idle (on loopback it seldom is: the inflating keeps it
  // busy, and the load does the work as before).
  const openEarly = (quick, prove) => {
    const early = {M, prove, queue: [], records: new Set(), privates: new Map(), closed: false, pumping: false};
    const idle = (f) => requestIdleCallback(f);
    // One idle period (up to 50 ms in a page that draws nothing) takes the next files while
    // it lasts: a callback asked for from within one runs only in the next, so one library
    // per period left most of (b)'s libraries to the load on the WAN.
    const pump = (deadline) => {
      const item = early.closed ? null : early.queue.shift();
      if (!item) {
        early.pumping = false;
        return;
      }
      let rec = null;
      try { rec = instantiateEarly(quick, early, ...item); } catch (e) {}
      const next = () => (deadline.timeRemaining() > 4 ? pump(deadline) : idle(pump));
      if (rec) rec.settled.then(next);
      else next();
    };
    early.offer = (node, contents, module) => {
      early.queue.push([node, contents, module]);
      if (!early.pumping) {
        early.pumping = true;
        idle(pump);
      }
    };
    earlyOffers().push(early);
    globalThis[Symbol.for("pyemscripten.instantiateEarly")] ??= (node, contents, module) => {
      const offers = earlyOffers();
      if (offers.length) offers[offers.length - 1].offer(node, contents, module);
    };
    return early;
  };
  // The record made for the library at `p`, taken (null if none, or made in another runtime).
  const takeEarly = (p) => {
    const node = memfsNode(p);
    const records = earlyRecords();
    const rec = node && records.get(node);
    if (!rec || rec.early.M !== M) return null;
    records.delete(node);
    rec.early.records.delete(rec);
    return rec;
  };
  // A record's own offset-table entries joined with the runtime's table, as the GOT handler
  // would have made them: false (and the table untouched) where another load has since made an
  // entry of the same name that is still undefined (two entries cannot become one).
  const joinOffsets = (rec, joined, needed) => {
    // Point 11: the definitions this module gets, decided now that the runtime's table is as
    // the load finds it. An entry of the batch's, bound at instantiation, cannot become a
    // NEEDED library's: the record is let go then, and the library loaded as before.
    const kept = new Set();  // the names it keeps its own definition of
    for (const [name, {entry}] of rec.got) {
      const current = M.GOT[name];
      const own = rec.own.get(name);
      const found = current && current !== entry ? definition(name, own ? own.kind : null, () => rec.kinds, needed,
                                                              rec.meta.tlsExports) : null;
      if (found && (found !== "own" || !own)) return false;
      if (found) kept.add(name);
      // one of its own where the table's entry is still undefined: updateGOT gives both its value
      if (current && current !== entry && !found && !(own && current.value == -1)
          && !(current.value != -1 && (entry.value == -1 || entry.value == current.value))) return false;
    }
    for (const [name, {entry, required}] of rec.got) {
      const current = M.GOT[name];
      if (!current) {
        M.GOT[name] = entry;
        joined.push(entry);  // point 9: an entry the runtime's table did not have
      } else if (current !== entry) {
        const own = rec.own.get(name);
        if (kept.has(name) || (own && current.value == -1)) {  // its own
          entry.value = ownValue(own.kind, rec.instance.exports, name, rec.memoryBase);
          if (kept.has(name)) keptOwn++;
        } else {
          entry.value = current.value;  // defined for good: updateGOT never changes a defined entry
        }
        continue;
      }
      if (required) entry.required = true;
    }
    return true;
  };
  // The offset table's entries still undefined (-1), by name, in the table's order (points 2
  // and 9), without the [name, entry] array Object.entries makes for every entry.
  const undefinedNames = () => {
    const GOT = M.GOT, names = [];
    for (const name in GOT) {
      const entry = GOT[name];
      if (entry && entry.value == -1) names.push(name);
    }
    return names;
  };
  // Point 2: the runtime's reportUndefinedSymbols, the same steps for the same entries in
  // the same order.
  const resolveUndefined = () => {
    for (const name of undefinedNames()) {
      const entry = M.GOT[name];
      const value = M.resolveGlobalSymbol(name, true).sym;
      if (!value && !entry.required) {
        entry.value = 0;
        continue;
      }
      if (!value) throw new Error(`Dynamic linking error: undefined symbol '${name}'`);
      if (typeof value == "function") entry.value = M.addFunction(value, value.sig);
      else if (typeof value == "number" || typeof value.value == "number") entry.value = value;
      else throw new Error(`bad export type for '${name}': ${typeof value} (${value})`);
    }
  };
  // Point 9's first walk taken ahead (step "prepare", while the wheels still download): the
  // entries of this runtime's table undefined then, and how far the wrapped constructor's
  // list was. Each one keeps the built-ins wrapped, so that every entry made undefined after
  // it is noted, until a load of the same runtime takes it over (step "load-prepared") or
  // step "release" lets it go. Both run to the end before the call returns.
  const takeWalk = (quick) => {
    const k = quick.walks ? quick.walks.findIndex((walk) => walk.M === M && walk.owner === owner) : -1;
    return k < 0 ? null : quick.walks.splice(k, 1)[0];
  };
  if (step === "prepare") {
    const quick = immutability(verify);
    let walk = null;
    try {
      if (quick.created) walk = {M, owner, names: undefinedNames(), created: quick.created, from: quick.created.length};
    } catch (e) {}
    if (!walk) {  // the constructor could not be wrapped (or the walk failed): the load walks
      if (--quick.depth === 0) quick.restore();
      return {ok: true, prepared: 0};
    }
    if (prove && typeof requestIdleCallback === "function") walk.early = openEarly(quick, prove);
    (quick.walks ??= []).push(walk);
    return {ok: true, prepared: 1};
  }
  if (step === "release") {
    const quick = globalThis[Symbol.for("pyemscripten.immutableGlobals")];
    try {
      const walk = quick && takeWalk(quick);
      if (walk && walk.early) {
        closeEarly(walk.early);
        for (const rec of [...walk.early.records]) discard(rec);
      }
      if (walk && --quick.depth === 0) quick.restore();
    } catch (e) {}
    return {ok: true};
  }
  const t0 = performance.now();
  let i = 0, inPlace = 0, marked = 0, mismatches = 0, ahead = 0, onWriteTaken = 0, walked = 1, walkMisses = 0;
  let walkedAhead = 0, earlyTaken = 0;
  try {
    const quick = immutability(verify);
    const early = step === "load-prepared" ? takeWalk(quick) : null;
    if (early) quick.depth--;  // its hold on the built-ins is this load's now
    if (early && early.early) closeEarly(early.early);  // point 10: nothing more starts
    const markedBefore = quick.marked, mismatchesBefore = quick.mismatches, aheadBefore = quick.ahead;
    // Point 9: what could be undefined once this batch is in: the entries undefined now,
    // and those made undefined from now on (noted by the wrapped constructor); or, from a
    // walk taken ahead (with the built-ins wrapped ever since), the entries undefined then
    // and those made undefined since.
    const created = quick.created || null;  // null: not wrapped
    const taken = early && early.created === created ? early : null;
    const createdFrom = taken ? taken.from : created ? created.length : 0;
    let undefinedBefore = null;
    const joined = [];  // point 10: entries of early instances put into the runtime's table
    // Point 6: the next modules compile (off this thread) while this one links.
    const AHEAD = 4;
    const loaded = (p) => M.LDSO.loadedLibsByName[p] || M.preloadedWasm[p];
    const instantiatedEarly = (p) => { const node = memfsNode(p); return !!node && earlyRecords().has(node); };
    const compiling = new Map();
    let next = 0;
    const compileNext = () => {
      while (next < paths.length && (loaded(paths[next]) || instantiatedEarly(paths[next]))) next++;
      if (!quick.wrapped || next >= paths.length || compiling.size >= AHEAD) return;
      const p = paths[next++];
      let bytes;
      try { bytes = fileBytes(p); } catch (e) { return; }  // the loop reports a failure
      const module = compiledEarly(p) ?? WebAssembly.compile(bytes).catch(() => null);
      compiling.set(p, {bytes, module});
      module.then(compileNext);
    };
    // One turn of the event loop between libraries: the engine's compiles ahead (point 6,
    // point 8) finish with steps on this thread, which a chain of promise continuations
    // never gives them; and a page can show the progress.
    const nextTask = () => new Promise((resolve) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => { channel.port1.close(); resolve(); };
      channel.port2.postMessage(0);
    });
    try {
      if (taken) walkedAhead = 1;
      // inside the try: the built-ins are put back whatever happens
      if (created) undefinedBefore = taken ? taken.names : undefinedNames();
      for (; i < paths.length; i++) {
        const p = paths[i];
        if (i > 0) await nextTask();
        if (loaded(p)) {  // by an overlapping load: its compile ahead, if any, is not needed
          compiling.delete(p);
          told(i + 1);
          continue;
        }
        // Point 10: the library instantiated while the wheel downloaded, linked now.
        const rec = takeEarly(p);
        if (rec) {
          compiling.delete(p);
          const ok = await rec.settled;
          let sources = null;
          try {
            sources = !ok ? null : rec.meta.neededDynlibs.length ? neededExports(rec.meta, p) : [];
            if (sources && (rec.discarded || !asWritten(rec.noted, rec.node) || !joinOffsets(rec, joined, sources))) sources = null;
          } catch (e) {
            sources = null;  // the load as before says what is wrong
          }
          if (sources) {
            rec.sources.push(...sources);
            rec.open();
            M.preloadedWasm[p] = await rec.loading;
            earlyTaken++;
            earlyStats.taken++;
            told(i + 1);
            continue;
          }
          discard(rec);
        }
        compileNext();
        const early = compiling.get(p);
        compiling.delete(p);
        const bytes = early ? early.bytes : fileBytes(p);
        if (early) quick.compiled.set(bytes, early.module);
        const meta = M.getDylinkMetadata(bytes);
        let sources = meta.neededDynlibs.length ? neededExports(meta, p) : null;
        const hidden = sources ? hideNeeded(bytes) : null;
        if (hidden) inPlace++;
        else sources = null;
        let found = null;
        try { found = immutableGlobals(bytes); } catch (e) {}
        if (found && found.at.length) quick.pending.set(bytes, found);
        const needed = !meta.neededDynlibs.length ? [] : sources ?? neededExports(meta, p);
        if (needed) quick.own.set(bytes, (module, imports) => keepOwn(module, imports, needed, meta.tlsExports));
        let loading;
        try {  // the runtime reads the dylink section before it returns; nothing runs in between
          loading = M.loadWebAssemblyModule(
            bytes, {loadAsync: true, nodelete: true, allowUndefined: true}, p, sources ? scopeOver(sources) : {});
        } finally {
          if (hidden) showNeeded(bytes, hidden);  // the file as it was
        }
        M.preloadedWasm[p] = await loading;
        told(i + 1);
      }
    } finally {
      marked = quick.marked - markedBefore;
      mismatches = quick.mismatches - mismatchesBefore;
      ahead = quick.ahead - aheadBefore;
      next = paths.length;  // nothing more compiles ahead
      if (early && early.early) for (const rec of [...early.early.records]) discard(rec);  // not this load's
      if (--quick.depth === 0) quick.restore();
    }
    const t1 = performance.now();
    i = -1;
    // Point 9: the walk finds nothing to resolve when every entry that was or became
    // undefined during the batch has since been defined (by a later module's exports).
    let settled = created !== null;
    for (let k = createdFrom; settled && k < created.length; k++) settled = created[k].value != -1;
    if (settled) settled = undefinedBefore.every((name) => { const e = M.GOT[name]; return !e || e.value != -1; });
    if (settled) settled = joined.every((entry) => entry.value != -1);
    if (!settled) resolveUndefined();
    else {
      walked = 0;
      if (verify) walkMisses = undefinedNames().length;  // tests: the walk would have found none
    }
    const t2 = performance.now();
    // The runtime's dlopen copies a local library's exports into a scope it then drops
    // (docstring, point 5): it is lent an empty stand-in, and gets the exports back after.
    // Its C side reads the file it opens into the interpreter's memory for nothing (point 7):
    // for the length of that synchronous call the file shows no bytes.
    const unread = unreadFiles();
    const opened = new Set();  // names of the libraries this step opened
    const seenEmpty = new Set();  // ... of those, the ones the C side saw empty
    const handlesBefore = new Map(Object.entries(M.LDSO.loadedLibsByHandle));
    try {
      for (i = 0; i < paths.length; i++) {
        const p = paths[i];
        if (neededNames.has(p)) {  // registered as the runtime registers a NEEDED library
          const flags = {global: false, nodelete: true, loadAsync: true};
          if (!M.LDSO.loadedLibsByName[p]) await M.loadDynamicLibrary(p, flags);
          continue;
        }
        const held = M.preloadedWasm[p];
        const exports = lent.get(held) ?? held;  // an overlapping load may have lent one already
        const stand = exports && !M.LDSO.loadedLibsByName[p] ? {} : null;
        if (stand) {
          lent.set(stand, exports);
          M.preloadedWasm[p] = stand;
        }
        const key = M.PATH.normalize(p);
        opened.add(key);
        const node = stand && unread.wrapped ? memfsNode(p) : null;
        const entry = node ? {node, hidden: false} : null;
        if (entry) unread.files.set(key, entry);
        try {
          await pyodide._api.loadDynlib(p);
        } finally {
          if (entry) {
            if (unread.files.get(key) === entry) unread.files.delete(key);
            if (entry.hidden) seenEmpty.add(key);
          }
          if (stand) {
            M.preloadedWasm[p] = exports;
            for (const dso of Object.values(M.LDSO.loadedLibsByName)) {
              if (lent.has(dso.exports)) dso.exports = lent.get(dso.exports);
            }
          }
        }
      }
    } finally {
      if (--unread.depth === 0) unread.restore();
    }
    // Point 7: the copy of each file the C side of dlopen read into the interpreter's memory:
    // empty where the file was hidden, whole where it could not be. Only handles this step
    // made, and only a copy of the size the file has, or 0 where the C side saw it empty.
    let freed = 0, skipped = 0;
    for (const [h, dso] of Object.entries(M.LDSO.loadedLibsByHandle)) {
      if (!Number(h) || handlesBefore.get(h) === dso || !opened.has(dso.name)) continue;
      const at = (Number(h) + 28) >>> 2;  // struct dso: file_data, file_data_size
      const data = M.HEAPU32[at], held = M.HEAPU32[at + 1];
      let size = -1;
      try { size = M.FS.stat(dso.name).size; } catch (e) {}
      if (held === 0 && seenEmpty.has(dso.name)) skipped += size;  // a read of 0 bytes: it succeeded
      else if (held !== size) continue;  // not the layout read: leave it
      if (!data) continue;
      M._free(data);
      M.HEAPU32[at] = M.HEAPU32[at + 1] = 0;
      freed += held;
    }
    const t3 = performance.now();
    return {ok: true, file_copies_freed: freed, file_reads_skipped: skipped, instantiate: (t1 - t0) / 1000, symbols: (t2 - t1) / 1000, dlopen: (t3 - t2) / 1000,
            needed_in_place: inPlace, immutable_globals: marked, compiled_ahead: ahead, compiled_on_write: onWriteTaken,
            undefined_walk: walked, walked_ahead: walkedAhead, instantiated_early: earlyTaken, kept_own: keptOwn, ...(verify ? {immutable_mismatches: mismatches, walk_misses: walkMisses} : {})};
  } catch (e) {
    return {ok: false, index: i, message: String((e && e.message) || e)};
  }
}
"""

_SEQUENTIAL_LOAD_JS = r"""
async (pyodide, paths, searchDirs, onLoaded) => {
  const legacy = pyodide._api.loadDynlib.length >= 2;  // 0.27: (lib, global, searchDirs)
  const t0 = performance.now();
  let i = 0;
  try {
    for (; i < paths.length; i++) {
      if (legacy) await pyodide._api.loadDynlib(paths[i], false, searchDirs);
      else await pyodide._api.loadDynlib(paths[i]);
      try { if (onLoaded) onLoaded(i + 1); } catch (e) {}  // progress never fails the load
    }
    return {ok: true, dlopen: (performance.now() - t0) / 1000};
  } catch (e) {
    return {ok: false, index: i, message: String((e && e.message) || e)};
  }
}
"""


def _prove_instantiation(module: Any) -> str | None:
    """Point 10: the sizes a side module's ``dylink.0`` asks for, ``"memory_size,memory_align,
    table_size,table_align"``, if :func:`~pyemscripten.instantiation.instantiation_writes`
    proves that instantiating it writes only there; None otherwise. ``module``: its bytes (a
    JavaScript Uint8Array), copied here."""
    try:
        sizes = instantiation_writes(module.to_bytes()).sizes
    except DylinkError:
        return None
    return ",".join(map(str, sizes))


def _pyodide_js() -> Any:
    import pyodide_js  # type: ignore[import-not-found]

    return pyodide_js


@functools.cache
def _run_js(code: str) -> Any:
    """The function ``code`` evaluates to, made once per interpreter (the loader's script is
    not parsed again for every load: 0.4 ms of (c)'s tail); the npm package's copy where it
    brought one (:func:`pyemscripten.browser.js_function`)."""
    from pyemscripten.browser import js_function

    return js_function(code)


def loaded_libraries() -> list[str]:
    """Names the runtime has loaded (the keys of Emscripten's ``LDSO.loadedLibsByName``):
    the ``loaded`` argument of :func:`pyemscripten.libraries.plan_loads`."""
    names = _pyodide_js()._module.LDSO.loadedLibsByName.object_keys()
    return [str(n) for n in names if str(n) != "__main__"]


def library_search_path() -> list[str]:
    """The runtime's library folders (its ``LD_LIBRARY_PATH``): the ``system_dirs`` argument
    of :func:`pyemscripten.libraries.plan_loads`."""
    import os

    from pyemscripten.libraries import search_path_folders

    return search_path_folders(os.environ.get("LD_LIBRARY_PATH", ""))


def _fast_path_supported(pyodide_js: Any) -> bool:
    major = str(pyodide_js.version).split(".")[0]
    module = getattr(pyodide_js, "_module", None)
    return (
        major in FAST_PATH_MAJORS
        and module is not None
        and all(hasattr(module, name) for name in (
            "loadWebAssemblyModule", "preloadedWasm", "LDSO", "getDylinkMetadata",
            "findLibraryFS", "PATH", "loadDynamicLibrary", "GOT", "resolveGlobalSymbol", "addFunction",
            "FS", "HEAPU32", "_free"))
    )


class PyodideLibraryLoader(LibraryLoader):
    """Loads planned side modules into the running Pyodide (see the module docstring).

    ``fast``: None picks the fast path where it was verified (Pyodide 314); False forces the
    sequential path; True forces the fast path (for measuring other runtimes).
    ``timings`` holds the phase durations (seconds) of the last :meth:`load` (and, on the fast
    path, ``needed_in_place``: how many libraries read their NEEDED libraries' exports in
    place, point 1 of the module docstring; ``immutable_globals``: how many exported globals
    were known immutable from the modules' sections, point 4; ``compiled_ahead``: how many
    were instantiated from a module compiled ahead, point 6; ``compiled_on_write``: how many
    modules compiled as their files were written this load took, point 8; ``walked_ahead``: 1
    when the load took over the walk :meth:`prepare` took ahead, point 9; ``instantiated_early``:
    how many libraries it linked that were instantiated while the wheels downloaded, point 10;
    ``kept_own``: how many offset-table entries libraries kept for their own symbols, point 11).
    ``instantiate_early``: False keeps point 10 out.
    ``verify_globals`` (tests): also ask the engine about every exported global of every
    module and count in ``timings['immutable_mismatches']`` where point 4's reading differs,
    and, when point 9 skips the walk over the offset table, count in ``timings['walk_misses']``
    the entries a walk would have found undefined (``timings['undefined_walk']``: 1 when it ran).
    """

    def __init__(self, fast: bool | None = None, verify_globals: bool = False, instantiate_early: bool = True) -> None:
        self.fast = fast
        self.verify_globals = verify_globals
        self.instantiate_early = instantiate_early
        self._prover: Any = None  # _prove_instantiation, callable from the page while a batch is open
        self._owner = next(_LOADERS)  # the walks prepare() takes are this loader's (point 9)
        self.timings: dict[str, float] = {}
        self._walks = 0  # walks taken ahead by prepare() that no load of ours took over yet

    def takes_compiled_modules(self) -> bool:
        """Whether :meth:`load` instantiates modules compiled as their files were written
        (:class:`~pyemscripten.browser.MemfsFileOps`, point 8): on the fast path."""
        return self._fast_path_here()

    def _fast_path_here(self) -> bool:
        """The fast path, where there is a Pyodide to take it (False outside one)."""
        try:
            return self._fast_path()
        except ImportError:
            return False

    def _fast_path(self) -> bool:
        return _fast_path_supported(_pyodide_js()) if self.fast is None else self.fast

    def loaded(self) -> list[str]:
        return loaded_libraries()

    async def prepare(self) -> None:
        """On the fast path, take point 9's first walk over the offset table now (the install
        calls this while its wheels still download), so that the next load starts without
        it: 2.6-2.7 ms of (c)'s tail on the WAN. Until a load takes it over, or
        :meth:`release` lets it go, the built-ins stay wrapped (module docstring, point 9).
        With it, a batch opens that instantiates library files as they are written (point 10),
        until the load or :meth:`release`."""
        if not self._fast_path_here():
            return
        from pyodide.ffi import create_proxy, to_js  # type: ignore[import-not-found]

        if self.instantiate_early and self._prover is None:
            self._prover = create_proxy(_prove_instantiation)
        # The step is done when the call returns; counted before the wait, so that an install
        # cancelled during it still lets the walk go (release() with none taken is harmless).
        done = _run_js(_FAST_LOAD_JS)(_pyodide_js(), to_js([]), self.verify_globals, "prepare", self._prover, self._owner)
        self._walks += 1
        if not (await done).to_py().get("prepared"):
            self._walks -= 1

    def release(self) -> None:
        """Let go of the walks :meth:`prepare` took that no load took over."""
        if self._walks:
            from pyodide.ffi import to_js  # type: ignore[import-not-found]

            while self._walks:
                self._walks -= 1
                # done when the call returns; never rejects
                _run_js(_FAST_LOAD_JS)(_pyodide_js(), to_js([]), False, "release", None, self._owner)
        if self._prover is not None:  # every batch that could call it is closed by now
            self._prover.destroy()
            self._prover = None

    def system_dirs(self) -> list[str]:
        return library_search_path()

    async def load(self, libraries: Sequence[LibraryToLoad], on_loaded: Callable[[int], None] | None = None) -> None:
        """Load ``libraries`` in the order given (dependencies first, as planned);
        ``on_loaded(n)`` once the first ``n`` are instantiated.

        Raises :class:`~pyemscripten.errors.LibraryLoadError` naming the library the runtime
        refused (or, when the batch's final undefined-symbol check fails, the one importing the
        symbol, or the last one when none can be told).
        Libraries loaded before the failure stay loaded: the runtime cannot unload them.
        """
        if not libraries:
            return
        from pyodide.ffi import create_proxy, to_js  # type: ignore[import-not-found]

        pyodide_js = _pyodide_js()
        paths = [lib.path for lib in libraries]
        fast = self._fast_path()
        started = time.perf_counter()
        raised: list[BaseException] = []

        def tell(n: int) -> None:
            assert on_loaded is not None
            try:
                on_loaded(n)
            except BaseException as exc:  # noqa: BLE001 - the listener's: raised once the load is over
                raised.append(exc)

        told = create_proxy(tell) if on_loaded is not None else None
        try:
            if fast:
                step = "load"
                if self._walks:  # the load takes over one of the walks taken ahead
                    self._walks -= 1
                    step = "load-prepared"
                result = await _run_js(_FAST_LOAD_JS)(pyodide_js, to_js(paths), self.verify_globals, step, None,
                                                      self._owner, told)
            else:
                search_dirs = list(dict.fromkeys(posixpath.dirname(p) for p in paths))
                result = await _run_js(_SEQUENTIAL_LOAD_JS)(pyodide_js, to_js(paths), to_js(search_dirs), told)
        finally:
            if told is not None:
                told.destroy()
        outcome = result.to_py()
        if raised and outcome["ok"]:  # a progress listener's error is its own, not the library's
            raise raised[0]
        if not outcome["ok"]:
            index = int(outcome["index"])
            reason = outcome["message"]
            if index >= 0:
                failed = libraries[index]
            else:
                failed = _importer(libraries, reason)
                reason = f"undefined symbols after loading {len(libraries)} libraries: {reason}"
            from pyemscripten.browser import eval_forbidden

            error = LibraryNeedsEvalError if eval_forbidden(reason) else LibraryLoadError
            raise error(failed.path, reason, project=failed.project)
        self.timings = {k: float(v) for k, v in outcome.items() if k != "ok"}
        self.timings["total"] = time.perf_counter() - started
        self.timings["fast"] = float(fast)


def _importer(libraries: Sequence[LibraryToLoad], reason: str) -> LibraryToLoad:
    """The library of a batch that imports the symbol ``reason`` names as undefined (the
    batch's final check, point 9, knows the symbol, not who asked for it); the last one
    when none can be told."""
    symbol = _UNDEFINED.search(reason)
    if symbol is not None:
        for library in libraries:
            try:
                with open(library.path, "rb") as file:
                    if imports_symbol(file.read(), symbol.group(1)):
                        return library
            except OSError:
                continue
    return libraries[-1]


_UNDEFINED = re.compile(r"undefined symbol '([^']+)'")  # resolveUndefined's message (_FAST_LOAD_JS)
