"""S3 as the runtime's own compute sees it: objects read and written in process."""
