<header>phpbuild testdata</header>
