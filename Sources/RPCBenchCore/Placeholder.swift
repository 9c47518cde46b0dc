// Placeholder so the package builds until rpcbench's core lands; safe to delete.
