# Random specifier sets checked against the real packaging (>= 26): prints
# one line per case, set TAB spec-prereleases TAB prereleases TAB
# contains-bits TAB filter TAB is_unsatisfiable. Used by
# packagingdiff_test.go (go test -tags packagingdiff).
import random, sys
from packaging.specifiers import SpecifierSet, InvalidSpecifier
from packaging.version import Version
random.seed(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
vers=["0","0.dev0","1.0","1.0.0","1.0a1","1.0b2","1.0rc1","1.0.post1","1.0.post1.dev1","1.0.dev1","1.0+local","1.0+1","1.0a1+x","1.0.post1+x","1.1","1.1.dev0","1.1a1","1.1.post0","2.0","2.0.dev0","2!1.0","1.9.9","1.0.1","0.9","3.0rc1","1.2.3","1.2","1.2.3.post2","1.2.4.dev1"]
ops=["==","!=","~=","<=",">=","<",">"]
def rspec():
    op=random.choice(ops)
    v=random.choice(vers)
    if op=="~=":
        if "." not in v.split("+")[0].split("!")[-1].split("a")[0]: v="1.0"
        v=v.split("+")[0]
    if op in ("==","!=") and random.random()<0.25:
        v=random.choice(["1","1.0","1.1","2","0","1.2"])+".*"
    elif op not in ("==","!="):
        v=v.split("+")[0]
    return op+v
if len(sys.argv) > 2 and sys.argv[2] == "relations":
    # left TAB right TAB prereleases TAB is_subset TAB is_disjoint
    rows = []
    while len(rows) < 6000:
        a = ",".join(rspec() for _ in range(random.randint(0, 2)))
        b = ",".join(rspec() for _ in range(random.randint(0, 2)))
        try:
            sa, sb = SpecifierSet(a), SpecifierSet(b)
        except InvalidSpecifier:
            continue
        p = random.choice([None, True, False])
        sa, sb = SpecifierSet(a, prereleases=p), SpecifierSet(b, prereleases=p)
        rows.append("%s\t%s\t%s\t%s\t%s" % (a, b, p, sa.is_subset(sb), sa.is_disjoint(sb)))
    sys.stdout.write("\n".join(rows) + "\n")
    sys.exit(0)
out=[]
while len(out)<6000:
    s=",".join(rspec() for _ in range(random.randint(1,3)))
    try: ss=SpecifierSet(s)
    except InvalidSpecifier: continue
    sp=random.choice([None,True,False])
    ss2=SpecifierSet(s, prereleases=sp)
    for p in (None,True,False):
        res="".join("1" if ss2.contains(v, prereleases=p) else "0" for v in vers)
        filt=" ".join(ss2.filter(vers, prereleases=p))
        out.append("%s\t%s\t%s\t%s\t%s\t%s" % (s, sp, p, res, filt, ss2.is_unsatisfiable()))
sys.stdout.write(" ".join(vers) + "\n" + "\n".join(out) + "\n")
