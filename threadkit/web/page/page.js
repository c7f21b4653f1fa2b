// the page around <threadkit-chat>
