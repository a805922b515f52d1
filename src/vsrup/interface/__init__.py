"""The method interface: what a method declares (`MethodSpec`), implements (`Method`) and
receives (`Clip`, `MethodOptions`, `Runtime`), and the registry the engine looks methods up in.
It sits between `nn` (below) and `engine` (above): methods and the engine both import it."""
