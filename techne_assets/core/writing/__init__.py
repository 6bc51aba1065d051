"""Writers: the port every writer implements, the offline writer and the staged model writer."""
